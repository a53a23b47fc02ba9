package dev.kiln.core;

/** Receives the result of an execution a compute node was given; {@code completed} is called exactly once. */
@FunctionalInterface
public interface ExecutionListener {
    void completed(ExecutionRequest request, ExecutionResult result);

    /** The node has taken the execution and is starting it (ends its dispatch latency). Optional. */
    default void started(ExecutionRequest request) {
    }

    /** Output the job printed while running (see {@link OutputSink}); before {@code completed}. Optional. */
    default void output(ExecutionRequest request, String stream, byte[] bytes) {
    }
}
