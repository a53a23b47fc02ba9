package dev.kiln.node.agent;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a node remembers of executions it does not run (any more, or yet), so that a message arriving late or twice
 * changes nothing: an {@code execute} resent after its result was acknowledged must not run it again, and a
 * {@code cancel} that overtook its {@code execute} must still cancel it. Bounded: the oldest ids are forgotten first
 * (a resend comes within seconds, not after ten thousand executions). Not thread-safe: {@link Executions} guards it.
 */
final class ExecutionHistory {
    static final int MAX_REMEMBERED = 10_000;

    private final Set<String> done = bounded(); // acknowledged, taken back by the orchestrator, or reported stopped
    private final Set<String> earlyCancels = bounded(); // cancelled before their execute arrived
    private final Set<String> interrupted = new LinkedHashSet<>(); // stopped by the node itself, not yet reported

    private static Set<String> bounded() {
        return Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > MAX_REMEMBERED;
            }
        });
    }

    /** The execution is over for this node: its result was acknowledged, or it is no longer this node's. */
    void done(String executionId) {
        done.add(executionId);
        earlyCancels.remove(executionId);
    }

    /** Whether a repeated {@code execute} of it must be ignored. */
    boolean isDone(String executionId) {
        return done.contains(executionId) || interrupted.contains(executionId);
    }

    /** A cancel arrived for an execution the node has not seen: its execute, when it comes, is answered cancelled. */
    void cancelledEarly(String executionId) {
        earlyCancels.add(executionId);
    }

    /** True (once) when the execution was cancelled before its execute arrived. */
    boolean takeEarlyCancel(String executionId) {
        return earlyCancels.remove(executionId);
    }

    /** The node stopped the execution itself (cut off past its lease); reported in the next hello. */
    void interrupted(String executionId) {
        interrupted.add(executionId);
    }

    /** Stopped executions not yet reported, for the next hello. */
    List<String> interrupted() {
        return new ArrayList<>(interrupted);
    }

    /** A welcome answered the hello that reported these: the orchestrator knows. */
    void reported(Collection<String> executionIds) {
        for (String id : executionIds) {
            if (interrupted.remove(id)) done.add(id);
        }
    }
}
