package dev.kiln.core;

/** What the orchestrator tells observers (metrics, logs). Called on the orchestrator's threads: keep it cheap. */
public interface OrchestratorEvents {
    OrchestratorEvents NONE = new OrchestratorEvents() {
    };

    default void submitted(JobRecord job) {
    }

    default void started(JobRecord job, long queuedMs) {
    }

    default void finished(JobRecord job) {
    }

    default void requeued(JobRecord job, String reason) {
    }

    /** The node started the execution {@code nanos} after the job became ready (submitted or re-queued). */
    default void dispatched(JobRecord job, long nanos) {
    }
}
