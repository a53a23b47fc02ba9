package dev.kiln.core;

import java.time.Duration;

/**
 * Tunables of an orchestrator. {@code maxAttempts} bounds how often a job is started (re-runs after a crash or a lost
 * node count); {@code defaultExecutor} overrides the nodes' own default when non-null (e.g. {@code noop} for load
 * tests); {@code nodeReconnectGrace} is how long, after a restart, executions the store shows running on a remote
 * node wait for that node to reconnect and claim them before they are re-queued; {@code queueTimeout} how long a job
 * may wait for a node when neither it nor its job type says (then it fails with {@code queue_timeout});
 * {@code idempotencyRetention} how long an idempotency key stands for its job (after it, the key may be used again);
 * {@code executionGrace} how long past its timeout an execution's result may take before the orchestrator takes the
 * execution back (a lost message, a node that never answers) and runs it again while attempts are left;
 * {@code retention} how long finished jobs (with their executions, outputs, artifacts and idempotency keys) are kept.
 */
public record OrchestratorSettings(int maxQueueSize, int maxAttempts, RequestLimits requestLimits,
                                   OutputLimits outputLimits, String defaultExecutor, Duration nodeReconnectGrace,
                                   Duration queueTimeout, Duration idempotencyRetention, Duration executionGrace,
                                   Duration retention) {
    public static final Duration DEFAULT_RECONNECT_GRACE = Duration.ofSeconds(10);
    public static final Duration DEFAULT_QUEUE_TIMEOUT = Duration.ofHours(1);
    public static final Duration DEFAULT_IDEMPOTENCY_RETENTION = Duration.ofHours(24);
    public static final Duration DEFAULT_EXECUTION_GRACE = Duration.ofSeconds(30);
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(30);

    public OrchestratorSettings {
        if (maxQueueSize < 1) throw new IllegalArgumentException("max_queue_size must be at least 1");
        if (maxAttempts < 1) throw new IllegalArgumentException("max_attempts must be at least 1");
        if (nodeReconnectGrace == null) nodeReconnectGrace = DEFAULT_RECONNECT_GRACE;
        if (queueTimeout == null) queueTimeout = DEFAULT_QUEUE_TIMEOUT;
        if (queueTimeout.isNegative() || queueTimeout.isZero()) {
            throw new IllegalArgumentException("queue_timeout must be positive");
        }
        if (idempotencyRetention == null) idempotencyRetention = DEFAULT_IDEMPOTENCY_RETENTION;
        if (idempotencyRetention.isNegative() || idempotencyRetention.isZero()) {
            throw new IllegalArgumentException("idempotency_retention must be positive");
        }
        if (executionGrace == null) executionGrace = DEFAULT_EXECUTION_GRACE;
        if (executionGrace.isNegative()) throw new IllegalArgumentException("execution_grace must not be negative");
        if (retention == null) retention = DEFAULT_RETENTION;
        if (retention.isNegative() || retention.isZero()) throw new IllegalArgumentException("retention must be positive");
    }

    public OrchestratorSettings(int maxQueueSize, int maxAttempts, RequestLimits requestLimits,
                                OutputLimits outputLimits, String defaultExecutor) {
        this(maxQueueSize, maxAttempts, requestLimits, outputLimits, defaultExecutor, DEFAULT_RECONNECT_GRACE,
                DEFAULT_QUEUE_TIMEOUT, DEFAULT_IDEMPOTENCY_RETENTION, DEFAULT_EXECUTION_GRACE, DEFAULT_RETENTION);
    }
}
