package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What this host gives the sandbox, one {@link Check} per piece, for {@code kiln doctor}. Read-only: nothing is
 * created, except that the gVisor platform probe starts one throw-away runsc container when /dev/kvm is there.
 */
public final class HostReport {
    /** The host uids jobs run as. */
    public static final String SANDBOX_UIDS = "as root: a host uid of its own per live bwrap sandbox from "
            + "sandbox.uid_range (default " + SandboxUidRange.DEFAULT + "), 65534 inside; gvisor jobs are 65534 "
            + "inside gVisor's kernel; without root: the server's own uid";
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern BWRAP_VERSION = Pattern.compile("bubblewrap (\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    /**
     * @param name     what is checked
     * @param ok       present and usable
     * @param required needed by the default configuration (bwrap executor); a missing one makes doctor fail
     * @param found    what was found (version, path, value)
     * @param cost     what its absence costs (empty when ok)
     * @param install  how to get it (empty when ok)
     */
    public record Check(String name, boolean ok, boolean required, String found, String cost, String install) {
    }

    /** Where to look; {@link #defaults()} for Debian. */
    public record Paths(Path bwrap, Path python, Path runsc, Path cgroupRoot, List<Path> seccompLibraries,
                        List<Path> userModeNetworking, Path procStatus) {
        public static Paths defaults() {
            return new Paths(Path.of("/usr/bin/bwrap"), Path.of("/usr/bin/python3"), RunscPlatform.DEFAULT_RUNSC,
                    CgroupDetector.DEFAULT_ROOT, List.of(Path.of("/usr/lib/x86_64-linux-gnu/libseccomp.so.2"),
                            Path.of("/usr/lib/aarch64-linux-gnu/libseccomp.so.2"), Path.of("/lib64/libseccomp.so.2")),
                    List.of(Path.of("/usr/bin/pasta"), Path.of("/usr/bin/slirp4netns")), Path.of("/proc/self/status"));
        }
    }

    private HostReport() {
    }

    public static List<Check> inspect(Paths p) {
        List<Check> checks = new ArrayList<>();
        String bwrapVersion = bwrapVersion(p.bwrap());
        checks.add(bwrapVersion != null
                ? ok("bubblewrap", true, bwrapVersion + " (" + p.bwrap() + ")")
                : missing("bubblewrap", true, "not found at " + p.bwrap(),
                "the default executor (bwrap) cannot run: jobs are refused (or run on noop, which runs nothing)",
                "apt-get install -y bubblewrap"));
        checks.add(disableUserns(bwrapVersion));
        checks.add(Files.isExecutable(p.python())
                ? ok("python3", true, p.python().toString())
                : missing("python3", true, "not found at " + p.python(), "no interpreter for jobs",
                "apt-get install -y python3"));
        checks.add(cgroups(p.cgroupRoot()));
        checks.add(seccomp(p));
        checks.add(userModeNetworking(p.userModeNetworking()));
        checks.add(runsc(p.runsc()));
        checks.add(ok("sandbox uids", false, SANDBOX_UIDS));
        checks.add(Privileges.isRoot()
                ? ok("root", false, "the server runs as root (uid 0)")
                : missing("root", false, "uid " + Privileges.currentUid(),
                "bwrap runs unprivileged (in a user namespace), /output is not size-capped while the job runs, "
                        + "cgroups need delegation, and the gvisor executor is unavailable",
                "run the server as root (sudo kiln server)"));
        return checks;
    }

    /** True when every check the default configuration needs is ok. */
    public static boolean defaultConfigurationReady(List<Check> checks) {
        return checks.stream().allMatch(c -> c.ok() || !c.required());
    }

    private static Check ok(String name, boolean required, String found) {
        return new Check(name, true, required, found, "", "");
    }

    private static Check missing(String name, boolean required, String found, String cost, String install) {
        return new Check(name, false, required, found, cost, install);
    }

    static String bwrapVersion(Path bwrap) {
        if (!Files.isExecutable(bwrap)) return null;
        var out = HostCommand.run(List.of(bwrap.toString(), "--version"), TOOL_TIMEOUT);
        return out.ok() ? out.output().lines().findFirst().orElse("bubblewrap").trim() : null;
    }

    /** {@code --disable-userns} came with bubblewrap 0.8.0. */
    static Check disableUserns(String bwrapVersion) {
        String name = "bwrap --disable-userns";
        Matcher m = bwrapVersion == null ? null : BWRAP_VERSION.matcher(bwrapVersion);
        if (m != null && m.find()) {
            int major = Integer.parseInt(m.group(1));
            int minor = Integer.parseInt(m.group(2));
            if (major > 0 || minor >= 8) return ok(name, false, "supported (" + bwrapVersion + " >= 0.8)");
        }
        return missing(name, false, bwrapVersion == null ? "no bubblewrap" : bwrapVersion + " < 0.8",
                "a job can create nested user namespaces (the way most container escapes reach the kernel) unless "
                        + "the seccomp filter blocks them", "bubblewrap >= 0.8 (Debian 13, or bookworm-backports)");
    }

    static Check cgroups(Path root) {
        CgroupDetector.Detected d = CgroupDetector.inspect(root);
        if (d.version() != null) {
            boolean cpu = d.controllers().contains("cpu");
            return new Check("cgroups", true, true, d.version() + " at " + root + ", controllers " + d.controllers(),
                    cpu ? "" : "no cpu controller: cpu_limit is not enforced", cpu ? "" : "mount the cpu controller");
        }
        return missing("cgroups", true, "no usable hierarchy at " + root + " (found " + d.controllers() + ")",
                "no memory or pids limit: a memory or fork bomb reaches the host", "mount cgroup v2 with the memory "
                        + "and pids controllers delegated, or the v1 memory and pids hierarchies");
    }

    static Check seccomp(Paths p) {
        Path lib = p.seccompLibraries().stream().filter(Files::exists).findFirst().orElse(null);
        String status = procStatusField(p.procStatus(), "Seccomp");
        String kernel = status == null ? "the kernel reports no Seccomp field (no CONFIG_SECCOMP)"
                : "kernel seccomp available (this process: Seccomp " + status + ")";
        if (lib != null && status != null) return ok("seccomp", false, "libseccomp2 at " + lib + "; " + kernel);
        return missing("seccomp", false, (lib == null ? "libseccomp2 not found" : "libseccomp2 at " + lib) + "; "
                        + kernel, "no seccomp filter: a job reaches every system call of the host kernel",
                lib == null ? "apt-get install -y libseccomp2" : "a kernel with CONFIG_SECCOMP_FILTER");
    }

    /** Kiln gives network-enabled sandboxes pasta's user-mode network behind an nft egress filter: both needed. */
    static Check userModeNetworking(List<Path> tools) {
        List<String> found = tools.stream().filter(Files::isExecutable).map(Path::toString).toList();
        boolean pasta = tools.stream().anyMatch(t -> t.getFileName().toString().equals("pasta") && Files.isExecutable(t));
        boolean nft = Files.isExecutable(UserNetwork.NFT);
        if (pasta && nft) return ok("user-mode networking", false, String.join(", ", found) + ", " + UserNetwork.NFT);
        return missing("user-mode networking", false, (pasta ? "" : "no pasta; ") + (nft ? "" : "no nft; ")
                        + "found " + found,
                "network_enabled job types (and layer builds from an index) are refused at start: they get a network "
                        + "namespace of their own from pasta behind an nft egress filter, never the host's",
                "apt-get install -y " + (pasta ? "" : "passt ") + (nft ? "" : "nftables"));
    }

    static Check runsc(Path runsc) {
        if (!RunscPlatform.installed(runsc)) {
            return missing("runsc (gVisor)", false, "not found at " + runsc,
                    "no gvisor executor: job types and nodes asking for executor: gvisor are refused",
                    "apt-get install -y runsc");
        }
        try {
            RunscPlatform p = RunscPlatform.detect(runsc, Path.of(System.getProperty("java.io.tmpdir"),
                    "kiln-runsc-probe"));
            return ok("runsc (gVisor)", false, p.version() + ", platform " + p.platform() + " (" + p.why() + ")");
        } catch (IllegalStateException e) {
            return missing("runsc (gVisor)", false, e.getMessage(), "no gvisor executor",
                    "apt-get install --reinstall -y runsc");
        }
    }

    static String procStatusField(Path status, String field) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field + ":")) return line.substring(field.length() + 1).trim();
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }
}
