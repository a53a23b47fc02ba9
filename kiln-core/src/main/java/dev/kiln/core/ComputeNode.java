package dev.kiln.core;

import java.util.Set;

/**
 * A place executions run: the in-process node, or a remote node connected over a stream, behind this one interface.
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

    /** Called whenever a slot frees (or a node reconnects), so placement can react without polling. */
    void onSlotFreed(Runnable listener);

    /** Whether the node runs fewer jobs of this type at once than it has slots (see {@link #freeSlotsFor}). */
    default boolean capsJobType(String jobType) {
        return false;
    }

    /** Free slots for one more job of the type: {@link #freeSlots()} unless the node caps that type. */
    default int freeSlotsFor(String jobType) {
        return freeSlots();
    }

    /** Whether this node runs jobs of the named type (remote nodes may offer a subset). */
    default boolean offersJobType(String jobType) {
        return true;
    }

    /** False while a remote node's connection is down (it gets no work until it reconnects). */
    default boolean connected() {
        return true;
    }

    /** True for a node living in the orchestrator's process: its executions die with the process. */
    default boolean inProcess() {
        return true;
    }

    /**
     * Takes over an execution this node reported it still runs after an orchestrator restart, so its result reaches
     * {@code listener}. Only remote nodes can.
     */
    default void adopt(ExecutionRequest request, ExecutionListener listener) {
        throw new UnsupportedOperationException("node " + id() + " cannot adopt executions");
    }
}
