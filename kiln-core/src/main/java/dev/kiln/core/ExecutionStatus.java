package dev.kiln.core;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Lifecycle of one execution (one attempt of a job on one node). An execution starts {@code running} when the
 * dispatcher claims its job and ends once: with the job's terminal status when its result (or a cancel) is recorded,
 * or {@code interrupted} when it is taken back (node lost, orchestrator restart or shutdown) and the job is queued
 * again for a new attempt. See docs/architecture.md for the diagram beside the job's.
 */
public enum ExecutionStatus {
    RUNNING, SUCCEEDED, FAILED, TIMEOUT, OOM, CANCELLED, INTERRUPTED;

    private static final Map<ExecutionStatus, Set<ExecutionStatus>> ALLOWED = Map.of(
            RUNNING, EnumSet.of(SUCCEEDED, FAILED, TIMEOUT, OOM, CANCELLED, INTERRUPTED),
            SUCCEEDED, EnumSet.noneOf(ExecutionStatus.class),
            FAILED, EnumSet.noneOf(ExecutionStatus.class),
            TIMEOUT, EnumSet.noneOf(ExecutionStatus.class),
            OOM, EnumSet.noneOf(ExecutionStatus.class),
            CANCELLED, EnumSet.noneOf(ExecutionStatus.class),
            INTERRUPTED, EnumSet.noneOf(ExecutionStatus.class));

    public boolean isTerminal() {
        return this != RUNNING;
    }

    public boolean canTransitionTo(ExecutionStatus next) {
        return ALLOWED.get(this).contains(next);
    }

    /** The execution's end when its job ends with {@code job} while it runs. */
    public static ExecutionStatus endingJob(JobStatus job) {
        if (!job.isTerminal()) throw new IllegalArgumentException("not a terminal job status: " + job);
        return valueOf(job.name());
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ExecutionStatus fromWire(String value) {
        for (ExecutionStatus s : values()) {
            if (s.wireName().equals(value)) return s;
        }
        throw new IllegalArgumentException("unknown execution status '" + value + "'");
    }
}
