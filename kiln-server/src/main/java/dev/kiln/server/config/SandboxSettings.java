package dev.kiln.server.config;

import java.util.regex.Pattern;

/** Where the sandbox finds its tools, and the name of Kiln's own cgroup parent. */
public record SandboxSettings(String python, String bwrap, String cgroupParent) {
    public static final SandboxSettings DEFAULTS = new SandboxSettings("/usr/bin/python3", "/usr/bin/bwrap", "kiln");
    /** A parent is one directory name in every cgroup controller. */
    public static final Pattern CGROUP_PARENT = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
}
