package dev.kiln.server;

import dev.kiln.core.JobType;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.SandboxUidRange;
import dev.kiln.server.config.ConfigException;
import dev.kiln.server.config.KilnConfig;

/**
 * At start: {@code sandbox.uid_range} must hold a uid for every sandbox that may live at once: the slots, every
 * configured bwrap type's warm pool, and one layer build. (Types registered later through the API are not counted:
 * past the range their pools fail to fill and cold runs fail with "no free sandbox uid".) Whether the range overlaps
 * the host's users is checked when the executor starts, where it matters: as root.
 */
final class SandboxUidCheck {
    private SandboxUidCheck() {
    }

    static long sandboxesAtOnce(KilnConfig config) {
        long pools = 0;
        for (JobType t : config.jobTypes()) {
            String executor = t.executor() != null ? t.executor() : config.executor();
            if (executor.equals(BwrapExecutor.NAME)) pools += t.pool().sizeFor(config.slots());
        }
        return config.slots() + pools + 1;
    }

    static void requireEnough(KilnConfig config) {
        SandboxUidRange range = config.sandbox().uidRange();
        long needed = sandboxesAtOnce(config);
        if (range.size() < needed) {
            String reason = "holds " + range.size() + " uids but up to " + needed + " sandboxes may live at once ("
                    + config.slots() + " slots + warm pools + 1 layer build)";
            throw new ConfigException("sandbox.uid_range " + range + " " + reason, "sandbox.uid_range", reason);
        }
    }
}
