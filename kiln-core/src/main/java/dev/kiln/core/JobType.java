package dev.kiln.core;

import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A named execution environment with its limits. {@code executor} is null to use the node's default executor.
 * Sizes are bytes, times seconds. {@code packages} says what its pre-built layer holds ({@link PackageSpec#NONE}:
 * no layer); {@code pool} how many warm sandboxes nodes keep for it; {@code queueTimeoutSeconds} (null: the server's
 * default) how long its jobs may wait for a node unless a job says otherwise; {@code network} (with
 * {@code networkEnabled}) what the sandbox may reach ({@link NetworkPolicy#OPEN}: no allow list).
 */
public record JobType(String name, long memoryLimitBytes, double cpuLimit, int timeoutSeconds, int maxTimeoutSeconds,
                      int pidsLimit, boolean networkEnabled, Map<String, String> environment, String executor,
                      long maxOutputBytes, long tmpSizeBytes, PackageSpec packages, WarmPoolSpec pool,
                      Integer queueTimeoutSeconds, NetworkPolicy network) {

    public static final long DEFAULT_MEMORY = 512L << 20;
    public static final double DEFAULT_CPU = 1.0;
    public static final int DEFAULT_TIMEOUT = 30;
    public static final int DEFAULT_MAX_TIMEOUT = 300;
    public static final int DEFAULT_PIDS = 64;
    public static final long DEFAULT_MAX_OUTPUT = 64L << 10;
    public static final long DEFAULT_TMP_SIZE = 64L << 20;

    public JobType {
        Objects.requireNonNull(name, "name");
        environment = environment == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(environment));
        packages = packages == null ? PackageSpec.NONE : packages;
        pool = pool == null ? WarmPoolSpec.DEFAULT : pool;
        network = network == null ? NetworkPolicy.OPEN : network;
    }

    /** Without an allow list. */
    public JobType(String name, long memoryLimitBytes, double cpuLimit, int timeoutSeconds, int maxTimeoutSeconds,
                   int pidsLimit, boolean networkEnabled, Map<String, String> environment, String executor,
                   long maxOutputBytes, long tmpSizeBytes, PackageSpec packages, WarmPoolSpec pool,
                   Integer queueTimeoutSeconds) {
        this(name, memoryLimitBytes, cpuLimit, timeoutSeconds, maxTimeoutSeconds, pidsLimit, networkEnabled,
                environment, executor, maxOutputBytes, tmpSizeBytes, packages, pool, queueTimeoutSeconds, null);
    }

    /** This type with {@code network} as its network policy. */
    public JobType withNetwork(NetworkPolicy network) {
        return new JobType(name, memoryLimitBytes, cpuLimit, timeoutSeconds, maxTimeoutSeconds, pidsLimit,
                networkEnabled, environment, executor, maxOutputBytes, tmpSizeBytes, packages, pool,
                queueTimeoutSeconds, network);
    }

    public JobType(String name, long memoryLimitBytes, double cpuLimit, int timeoutSeconds, int maxTimeoutSeconds,
                   int pidsLimit, boolean networkEnabled, Map<String, String> environment, String executor,
                   long maxOutputBytes, long tmpSizeBytes, PackageSpec packages, WarmPoolSpec pool) {
        this(name, memoryLimitBytes, cpuLimit, timeoutSeconds, maxTimeoutSeconds, pidsLimit, networkEnabled,
                environment, executor, maxOutputBytes, tmpSizeBytes, packages, pool, null);
    }

    public JobType(String name, long memoryLimitBytes, double cpuLimit, int timeoutSeconds, int maxTimeoutSeconds,
                   int pidsLimit, boolean networkEnabled, Map<String, String> environment, String executor,
                   long maxOutputBytes, long tmpSizeBytes, PackageSpec packages) {
        this(name, memoryLimitBytes, cpuLimit, timeoutSeconds, maxTimeoutSeconds, pidsLimit, networkEnabled,
                environment, executor, maxOutputBytes, tmpSizeBytes, packages, WarmPoolSpec.DEFAULT);
    }

    /** A type without a pre-built layer. */
    public JobType(String name, long memoryLimitBytes, double cpuLimit, int timeoutSeconds, int maxTimeoutSeconds,
                   int pidsLimit, boolean networkEnabled, Map<String, String> environment, String executor,
                   long maxOutputBytes, long tmpSizeBytes) {
        this(name, memoryLimitBytes, cpuLimit, timeoutSeconds, maxTimeoutSeconds, pidsLimit, networkEnabled,
                environment, executor, maxOutputBytes, tmpSizeBytes, PackageSpec.NONE, WarmPoolSpec.DEFAULT);
    }

    public boolean needsLayer() {
        return !packages.isEmpty();
    }

    /** The built-in type that exists without any configuration. */
    public static JobType defaults(String name) {
        return new JobType(name, DEFAULT_MEMORY, DEFAULT_CPU, DEFAULT_TIMEOUT, DEFAULT_MAX_TIMEOUT, DEFAULT_PIDS,
                false, Map.of(), null, DEFAULT_MAX_OUTPUT, DEFAULT_TMP_SIZE, PackageSpec.NONE, WarmPoolSpec.DEFAULT);
    }
}
