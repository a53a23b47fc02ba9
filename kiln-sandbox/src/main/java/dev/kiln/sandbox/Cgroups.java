package dev.kiln.sandbox;

import java.io.IOException;
import java.util.List;

/**
 * Kiln's own sub-tree of the cgroup hierarchy: one parent (named {@code kiln} by default) with one child per
 * execution. Implementations: {@link CgroupV1}, {@link CgroupV2}; {@link CgroupDetector} picks one.
 */
interface Cgroups extends AutoCloseable {
    /** "v1" or "v2". */
    String version();

    /** Creates the execution's cgroup with its limits applied; fails if it already exists. */
    Cgroup create(String name, CgroupLimits limits) throws IOException;

    /** A handle on an existing child (stale or running), e.g. to kill it; nothing is created. */
    Cgroup existing(String name);

    /** Names of the current children of Kiln's parent cgroup. */
    List<String> children();

    /** Kills and removes children left behind by a crashed run; returns how many were removed. */
    int removeStale();

    /** Removes the parent cgroup if it is empty. */
    @Override
    void close();
}
