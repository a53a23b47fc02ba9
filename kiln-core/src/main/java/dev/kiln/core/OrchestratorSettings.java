package dev.kiln.core;

/**
 * Tunables of an orchestrator. {@code maxAttempts} bounds how often a job is started (re-runs after a crash count);
 * {@code defaultExecutor} overrides the nodes' own default when non-null (e.g. {@code noop} for load tests).
 */
public record OrchestratorSettings(int maxQueueSize, int maxAttempts, RequestLimits requestLimits,
                                   OutputLimits outputLimits, String defaultExecutor) {
    public OrchestratorSettings {
        if (maxQueueSize < 1) throw new IllegalArgumentException("max_queue_size must be at least 1");
        if (maxAttempts < 1) throw new IllegalArgumentException("max_attempts must be at least 1");
    }
}
