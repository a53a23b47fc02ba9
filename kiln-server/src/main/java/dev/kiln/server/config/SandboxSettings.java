package dev.kiln.server.config;

/** Where the sandbox finds its tools, and the name of Kiln's own cgroup parent. */
public record SandboxSettings(String python, String bwrap, String cgroupParent) {
    public static final SandboxSettings DEFAULTS = new SandboxSettings("/usr/bin/python3", "/usr/bin/bwrap", "kiln");
}
