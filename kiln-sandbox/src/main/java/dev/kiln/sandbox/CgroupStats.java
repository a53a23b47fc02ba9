package dev.kiln.sandbox;

/** What the kernel counted for one execution's cgroup: OOM kills and refused forks (pids limit hits). */
record CgroupStats(long oomKills, long pidsLimitHits) {
    static final CgroupStats NONE = new CgroupStats(0, 0);
}
