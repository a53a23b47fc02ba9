package dev.kiln.sandbox;

import java.time.Duration;
import java.util.Objects;

/**
 * Limits of one layer build's sandbox (pip and whatever it runs, e.g. an sdist's build backend).
 *
 * @param memoryBytes memory cgroup limit
 * @param pidsMax     processes and threads
 * @param cpus        CPU quota in cores; {@code <= 0} for none
 * @param timeout     wall time after which the build is killed and fails
 */
public record LayerBuildLimits(long memoryBytes, int pidsMax, double cpus, Duration timeout) {
    public static final LayerBuildLimits DEFAULTS = new LayerBuildLimits(2L << 30, 1024, 0, Duration.ofMinutes(10));

    public LayerBuildLimits {
        Objects.requireNonNull(timeout, "timeout");
        if (memoryBytes <= 0) throw new IllegalArgumentException("layer build memory must be positive");
        if (pidsMax <= 0) throw new IllegalArgumentException("layer build pids limit must be positive");
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("layer build timeout must be positive");
    }

    public LayerBuildLimits withTimeout(Duration t) {
        return new LayerBuildLimits(memoryBytes, pidsMax, cpus, t);
    }

    CgroupLimits cgroupLimits() {
        return new CgroupLimits(memoryBytes, pidsMax, cpus);
    }
}
