package dev.kiln.sandbox;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobStatus;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * For load tests of everything around execution: reports success at once and does NOT run the code. Its timings
 * are measured, so they show the (near zero) cost honestly.
 */
public final class NoopExecutor implements Executor {
    public static final String NAME = "noop";

    public NoopExecutor() {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir) {
        long entry = System.nanoTime();
        long started = System.nanoTime();
        long finished = System.nanoTime();
        return new ExecutionResult(JobStatus.SUCCEEDED, 0, "", "", false, false, null, null,
                TimeUnit.NANOSECONDS.toMillis(started - entry), TimeUnit.NANOSECONDS.toMillis(finished - started),
                List.of());
    }

    /** Nothing ever runs, so there is nothing to cancel. */
    @Override
    public void cancel(String executionId) {
    }
}
