package dev.kiln.core;

import java.util.Set;

/**
 * A place executions run: the in-process node today, remote nodes over a stream later, behind this one interface.
 * A node runs at most {@link #capacity()} executions at once.
 */
public interface ComputeNode {
    String id();

    int capacity();

    int freeSlots();

    /** Executors this node can run (e.g. {@code bwrap}, {@code noop}). */
    Set<String> executors();

    /** Operator-set and automatic labels (arch, os, cpus, memory, executors), matched by job constraints. */
    java.util.Map<String, String> labels();

    /** The executor used when a job type names none. */
    String defaultExecutor();

    /**
     * Starts an execution without blocking. The listener is called exactly once, from a node thread; any files the
     * result refers to are valid until the listener returns.
     *
     * @throws IllegalStateException when the node has no free slot
     */
    void execute(ExecutionRequest request, String executor, ExecutionListener listener);

    void cancel(String executionId);

    /** Called whenever a slot frees, so placement can react without polling. */
    void onSlotFreed(Runnable listener);
}
