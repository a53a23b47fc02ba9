package dev.kiln.sandbox;

import dev.kiln.core.JobType;

/**
 * The host cgroup limits of one gVisor sandbox. The cgroup holds gVisor's own processes too (runsc, the gofer, the
 * sentry with its Go threads, and on ptrace ~3 host threads per guest process), so the job's limits are widened by
 * what gVisor itself needs; the job keeps about the memory and processes its type grants, and a memory or fork bomb
 * still hits a hard host limit.
 */
final class GvisorLimits {
    /** The sentry, the gofer and runsc: ~100 MiB resident for a Python job, measured on runsc 2022 / ptrace. */
    static final long MEMORY_OVERHEAD = 160L << 20;
    /** runsc, gofer and sentry threads (~95 at start, more under load). */
    static final int PIDS_OVERHEAD = 256;
    /** Host tasks per guest process on ptrace (a stub process with its threads). */
    static final int PIDS_PER_GUEST_PROCESS = 4;

    private GvisorLimits() {
    }

    static CgroupLimits of(JobType type) {
        long memory = type.memoryLimitBytes() > 0 ? type.memoryLimitBytes() + MEMORY_OVERHEAD : 0;
        int pids = type.pidsLimit() > 0 ? PIDS_OVERHEAD + PIDS_PER_GUEST_PROCESS * type.pidsLimit() : 0;
        return new CgroupLimits(memory, pids, type.cpuLimit());
    }
}
