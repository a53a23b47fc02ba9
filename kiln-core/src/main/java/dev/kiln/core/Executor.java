package dev.kiln.core;

import java.nio.file.Path;

/**
 * Runs one execution to completion in a fresh sandbox. Implementations: bubblewrap + cgroups, noop.
 * {@code workDir} is an empty node-local directory owned by this execution; the executor lays out input, output and
 * collected artifacts inside it, and the caller deletes it after the result has been delivered.
 */
public interface Executor extends AutoCloseable {
    String name();

    /** Blocks until the execution ends; never throws for anything the job did (that is in the result). */
    ExecutionResult execute(ExecutionRequest request, Path workDir);

    /** Like {@link #execute(ExecutionRequest, Path)}, telling {@code live} what the job prints while it runs. */
    default ExecutionResult execute(ExecutionRequest request, Path workDir, OutputSink live) {
        return execute(request, workDir);
    }

    /** Kills a running execution; its {@link #execute} returns status CANCELLED. No-op when not running. */
    void cancel(String executionId);

    /**
     * Releases what a crashed run of this executor left under {@code workRoot} (e.g. mounts), before the node deletes
     * the leftovers.
     */
    default void releaseStaleWork(Path workRoot) {
    }

    @Override
    default void close() {
    }
}
