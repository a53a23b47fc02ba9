package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What this host's runsc can run on, best first: KVM (when {@code /dev/kvm} is there and a probe container actually
 * starts on it: a VM may expose a /dev/kvm that hangs), systrap (runsc builds from 2023 on), else ptrace, which every
 * build has. Detected once per runsc binary per process (the KVM probe can take {@link #KVM_PROBE_TIMEOUT}).
 *
 * @param version  the first line of {@code runsc --version}
 * @param platform the platform Kiln passes as {@code --platform}
 * @param why      one line on why that one (for logs and {@code kiln doctor})
 */
public record RunscPlatform(String version, String platform, String why) {
    private static final Logger log = LoggerFactory.getLogger(RunscPlatform.class);
    public static final Path DEFAULT_RUNSC = Path.of("/usr/bin/runsc");
    public static final String RUNSC_MISSING = "gVisor (runsc) is not installed: run `apt-get install -y runsc`";
    static final Duration KVM_PROBE_TIMEOUT = Duration.ofSeconds(4);
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern PLATFORM_FLAG = Pattern.compile("(?m)^\\s+-platform string\\s*\\n\\s*(.*)$");
    private static final Map<Path, RunscPlatform> DETECTED = new ConcurrentHashMap<>();

    /** {@code runsc} is missing or not executable. */
    public static boolean installed(Path runsc) {
        return Files.isExecutable(runsc);
    }

    /**
     * Detects (once) the best platform of {@code runsc}, probing KVM with a throw-away container under
     * {@code scratch}.
     *
     * @throws IllegalStateException when runsc is missing or does not answer
     */
    public static RunscPlatform detect(Path runsc, Path scratch) {
        if (!installed(runsc)) throw new IllegalStateException(RUNSC_MISSING + " (looked for " + runsc + ")");
        return DETECTED.computeIfAbsent(runsc.toAbsolutePath().normalize(), r -> probe(r, scratch));
    }

    private static RunscPlatform probe(Path runsc, Path scratch) {
        var version = HostCommand.run(List.of(runsc.toString(), "--version"), TOOL_TIMEOUT);
        if (!version.ok()) throw new IllegalStateException("`" + runsc + " --version` failed: " + version.output());
        String v = version.output().lines().findFirst().orElse("").trim();
        var flags = HostCommand.run(List.of(runsc.toString(), "flags"), TOOL_TIMEOUT);
        boolean systrap = offersSystrap(flags.output());
        String kvmWhy = kvmUsable(runsc, scratch);
        RunscPlatform p;
        if (kvmWhy == null) {
            p = new RunscPlatform(v, "kvm", "/dev/kvm is usable");
        } else if (systrap) {
            p = new RunscPlatform(v, "systrap", "systrap is supported; KVM not used: " + kvmWhy);
        } else {
            p = new RunscPlatform(v, "ptrace", "this runsc offers no systrap; KVM not used: " + kvmWhy);
        }
        log.info("gVisor {}: platform {} ({})", v, p.platform(), p.why());
        return p;
    }

    /** Whether {@code runsc flags} lists systrap among the platforms (the 2022 build: "ptrace (default), kvm"). */
    static boolean offersSystrap(String flagsOutput) {
        Matcher m = PLATFORM_FLAG.matcher(flagsOutput);
        return m.find() && m.group(1).contains("systrap");
    }

    /** Null when a container starts on KVM within the timeout, else why not. */
    private static String kvmUsable(Path runsc, Path scratch) {
        Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm)) return "no /dev/kvm";
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) return "/dev/kvm is not readable and writable";
        Path dir;
        try {
            Files.createDirectories(scratch);
            dir = Files.createTempDirectory(scratch, "kvm-probe-");
        } catch (IOException e) {
            return "cannot create a probe directory under " + scratch + ": " + e.getMessage();
        }
        try {
            WorkDirLayout layout = WorkDirLayout.of(dir.resolve("work"));
            layout.prepare("", null, Map.of());
            OciBundle bundle = new OciBundle(dir.resolve("bundle"));
            bundle.write(new OciBundle.Contents(layout, List.of("/usr/bin/true"), Map.of("PATH", "/usr/bin"), 4096,
                    null));
            RunscCommand cmd = new RunscCommand(runsc, dir.resolve("state"), "kvm");
            var outcome = HostCommand.run(cmd.run(bundle.dir(), "kvm-probe"), KVM_PROBE_TIMEOUT);
            HostCommand.run(cmd.deleteForce("kvm-probe"), TOOL_TIMEOUT);
            if (outcome.ok()) return null;
            return outcome.exitCode() == -1 ? "a probe container did not start on KVM within "
                    + KVM_PROBE_TIMEOUT.toSeconds() + " s" : "a probe container failed on KVM: " + outcome.output();
        } catch (IOException e) {
            return "cannot write the probe bundle: " + e.getMessage();
        } finally {
            LayerFiles.deleteQuietly(dir);
        }
    }
}
