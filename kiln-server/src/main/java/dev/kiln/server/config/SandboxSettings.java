package dev.kiln.server.config;

import dev.kiln.sandbox.SandboxUidRange;

import java.util.regex.Pattern;

/**
 * Where the sandbox finds its tools, the name of Kiln's own cgroup parent, and the host uids sandboxes run as
 * (one per live sandbox, when Kiln is root).
 */
public record SandboxSettings(String python, String bwrap, String cgroupParent, SandboxUidRange uidRange) {
    public static final SandboxSettings DEFAULTS = new SandboxSettings("/usr/bin/python3", "/usr/bin/bwrap", "kiln",
            SandboxUidRange.DEFAULT);
    /** A parent is one directory name in every cgroup controller. */
    public static final Pattern CGROUP_PARENT = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

    public SandboxSettings {
        if (uidRange == null) uidRange = SandboxUidRange.DEFAULT;
    }

    public SandboxSettings(String python, String bwrap, String cgroupParent) {
        this(python, bwrap, cgroupParent, SandboxUidRange.DEFAULT);
    }
}
