package dev.kiln.sandbox;

import java.util.List;

/** The executors a Kiln node can offer, by the name job types, nodes and the server config use. */
public final class ExecutorNames {
    public static final List<String> ALL = List.of(BwrapExecutor.NAME, GvisorExecutor.NAME, NoopExecutor.NAME);
    /** For messages: "bwrap, gvisor or noop". */
    public static final String CHOICES = "bwrap, gvisor or noop";

    private ExecutorNames() {
    }

    public static boolean isKnown(String name) {
        return ALL.contains(name);
    }
}
