package dev.kiln.core;

/** Receives the result of an execution a compute node was given; called exactly once per execution. */
@FunctionalInterface
public interface ExecutionListener {
    void completed(ExecutionRequest request, ExecutionResult result);
}
