package dev.kiln.core;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Lifecycle of a job. The allowed-transition table is the single source of truth for every state change. */
public enum JobStatus {
    QUEUED, RUNNING, SUCCEEDED, FAILED, TIMEOUT, OOM, CANCELLED;

    private static final Set<JobStatus> TERMINAL = EnumSet.of(SUCCEEDED, FAILED, TIMEOUT, OOM, CANCELLED);

    // RUNNING -> QUEUED is a re-run after an interrupted attempt (crash, lost node).
    // QUEUED -> FAILED covers jobs that can never run (attempts exhausted, environment refused).
    private static final Map<JobStatus, Set<JobStatus>> ALLOWED = Map.of(
            QUEUED, EnumSet.of(RUNNING, CANCELLED, FAILED),
            RUNNING, EnumSet.of(QUEUED, SUCCEEDED, FAILED, TIMEOUT, OOM, CANCELLED),
            SUCCEEDED, EnumSet.noneOf(JobStatus.class),
            FAILED, EnumSet.noneOf(JobStatus.class),
            TIMEOUT, EnumSet.noneOf(JobStatus.class),
            OOM, EnumSet.noneOf(JobStatus.class),
            CANCELLED, EnumSet.noneOf(JobStatus.class));

    public boolean isTerminal() {
        return TERMINAL.contains(this);
    }

    public boolean canTransitionTo(JobStatus next) {
        return ALLOWED.get(this).contains(next);
    }

    public static Set<JobStatus> terminal() {
        return EnumSet.copyOf(TERMINAL);
    }

    /** The name on the wire and in the store: lower case. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static JobStatus fromWire(String value) {
        for (JobStatus s : values()) {
            if (s.wireName().equals(value)) return s;
        }
        throw new IllegalArgumentException("unknown job status '" + value + "'");
    }
}
