package dev.kiln.sandbox;

import dev.kiln.core.JobType;

/**
 * The resource limits applied to one execution's cgroup. A value {@code <= 0} means "no limit" (never expected from a
 * real job type, but it must not turn into a kernel error or, worse, into an accidental limit of zero).
 */
record CgroupLimits(long memoryBytes, int pidsMax, double cpus) {
    static final long CPU_PERIOD_US = 100_000;
    // The kernel refuses quotas below 1 ms.
    private static final long MIN_QUOTA_US = 1_000;

    static CgroupLimits of(JobType type) {
        return new CgroupLimits(type.memoryLimitBytes(), type.pidsLimit(), type.cpuLimit());
    }

    /** cfs quota in microseconds per {@link #CPU_PERIOD_US}, or -1 for unlimited. */
    long cpuQuotaUs() {
        if (cpus <= 0) return -1;
        return Math.max(MIN_QUOTA_US, Math.round(cpus * CPU_PERIOD_US));
    }
}
