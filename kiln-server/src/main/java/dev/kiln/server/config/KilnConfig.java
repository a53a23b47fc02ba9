package dev.kiln.server.config;

import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.RequestLimits;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything a Kiln server is configured with. Sources, strongest first: command-line flags, KILN_* environment
 * variables, {@code kiln.yaml}, defaults.
 */
public record KilnConfig(String host, int port, Path dataDir, String executor, int slots, int maxQueueSize,
                         int maxAttempts, RequestLimits requestLimits, OutputLimits outputLimits,
                         SandboxSettings sandbox, List<JobType> jobTypes) {
    public static final int DEFAULT_PORT = 8000;

    public KilnConfig {
        jobTypes = List.copyOf(jobTypes);
    }

    public static KilnConfig defaults() {
        return new KilnConfig("0.0.0.0", DEFAULT_PORT, Path.of("kiln-data"), "bwrap",
                Math.max(1, Runtime.getRuntime().availableProcessors()), 10_000, 2, RequestLimits.DEFAULTS,
                OutputLimits.DEFAULTS, SandboxSettings.DEFAULTS, List.of());
    }

    public KilnConfig withPort(int p) {
        return new KilnConfig(host, p, dataDir, executor, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, jobTypes);
    }

    public KilnConfig withHost(String h) {
        return new KilnConfig(h, port, dataDir, executor, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, jobTypes);
    }

    public KilnConfig withDataDir(Path d) {
        return new KilnConfig(host, port, d, executor, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, jobTypes);
    }

    public KilnConfig withExecutor(String e) {
        return new KilnConfig(host, port, dataDir, e, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, jobTypes);
    }

    public KilnConfig withSlots(int s) {
        return new KilnConfig(host, port, dataDir, executor, s, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, jobTypes);
    }

    public KilnConfig withMaxQueueSize(int q) {
        return new KilnConfig(host, port, dataDir, executor, slots, q, maxAttempts, requestLimits, outputLimits,
                sandbox, jobTypes);
    }

    public KilnConfig withSandbox(SandboxSettings s) {
        return new KilnConfig(host, port, dataDir, executor, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, s, jobTypes);
    }

    public KilnConfig withJobTypes(List<JobType> types) {
        return new KilnConfig(host, port, dataDir, executor, slots, maxQueueSize, maxAttempts, requestLimits,
                outputLimits, sandbox, types);
    }

    public KilnConfig withRequestLimits(RequestLimits r) {
        return new KilnConfig(host, port, dataDir, executor, slots, maxQueueSize, maxAttempts, r, outputLimits,
                sandbox, jobTypes);
    }
}
