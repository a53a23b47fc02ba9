package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class BwrapCommandTest {
    @TempDir
    Path temp;

    private final BwrapCommand command = new BwrapCommand(BwrapConfig.defaults());
    private final WorkDirLayout layout = WorkDirLayout.of(Path.of("/data/work/e1"));

    private static int indexOfPair(List<String> argv, String a, String b) {
        return Collections.indexOfSubList(argv, List.of(a, b));
    }

    @Test
    void mergedUsrHostsGetSymlinksOthersReadOnlyBinds() throws IOException {
        Files.createDirectories(temp.resolve("usr/bin"));
        Files.createSymbolicLink(temp.resolve("bin"), Path.of("usr/bin"));
        Files.createDirectories(temp.resolve("lib"));
        Files.createSymbolicLink(temp.resolve("sbin"), Path.of("/opt/elsewhere"));
        // lib64 absent

        List<String> args = new BwrapCommand(BwrapConfig.defaults(), temp).systemDirArgs();

        assertThat(args).containsExactly("--symlink", "usr/bin", "/bin", "--ro-bind", "/lib", "/lib");
    }

    @Test
    void wrapsWithCgroupJoinAndSetprivWhenRoot() {
        List<Path> procs = List.of(Path.of("/sys/fs/cgroup/memory/kiln/e 1/cgroup.procs"),
                Path.of("/sys/fs/cgroup/pids/kiln/e1/cgroup.procs"));
        List<String> argv = command.build(layout, procs, 100_000_007, (UserNetwork.Setup) null, Map.of(), 1 << 20, null,
                List.of(),
                SandboxRlimits.forJob(64L << 20, 1 << 20, SandboxRlimits.processes(64, true)));

        assertThat(argv.subList(0, 7)).containsExactly("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "2",
                procs.get(0).toString(), procs.get(1).toString());
        // rlimits: open files, file size in 512-byte blocks, processes (the job's pids limit + bwrap's own)
        assertThat(argv.subList(7, 10)).containsExactly("1024", Long.toString((64L << 20) / 512), "72");
        assertThat(argv.get(10)).isEqualTo(SeccompFilters.shared().file(false).toString());
        assertThat(argv.get(11)).isEqualTo("/usr/bin/setpriv");
        // the sandbox's own host uid outside, 65534 inside
        assertThat(argv).contains("--reuid=100000007", "--regid=100000007", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all");
        assertThat(argv.subList(argv.indexOf("/usr/bin/bwrap"), argv.size())).startsWith("/usr/bin/bwrap", "--unshare-all",
                "--unshare-user", "--disable-userns", "--seccomp", BwrapCommand.SECCOMP_FD, "--die-with-parent",
                "--new-session", "--clearenv");
        assertThat(argv).doesNotContain("--share-net");
        assertThat(argv.subList(argv.size() - 3, argv.size())).containsExactly("/usr/bin/python3", "-u", "/code/main.py");
        assertThat(indexOfPair(argv, "--cap-drop", "ALL")).isPositive();
        assertThat(indexOfPair(argv, "--uid", "65534")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/sandbox/input", "/input")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/sandbox/code", "/code")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/output", "/output")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/sandbox/etc/passwd", "/etc/passwd")).isPositive();
        assertThat(Collections.indexOfSubList(argv, List.of("--ro-bind", "/usr", "/usr", "--perms", "0555", "--tmpfs",
                "/usr/local", "--remount-ro", "/usr/local"))).as("/usr/local hidden right after /usr").isPositive();
        assertThat(indexOfPair(argv, "--size", Integer.toString(1 << 20))).isEqualTo(indexOfPair(argv, "--tmpfs", "/tmp") - 2);
        assertThat(argv).noneMatch(a -> a.startsWith("/root") || a.startsWith("/home") || a.equals("/etc/shadow"));
    }

    @Test
    void noSetprivWhenUnprivilegedAndNetworkOnlyWhenEnabled() {
        UserNetwork.Setup network = new UserNetwork.Setup(List.of("/usr/bin/pasta", "--"), Path.of("/data/work/e1/etc/hosts"));
        assertThat(command.build(layout, List.of(), false, false, Map.of(), 1 << 20)).doesNotContain("--share-net");
        List<String> argv = command.build(layout, List.of(), false, network, Map.of(), 1 << 20);
        assertThat(argv).doesNotContain("/usr/bin/setpriv");
        // the cgroups are joined, the network prefix (pasta) runs, then the limits in pasta's namespace; bwrap
        // shares that namespace, never the host's
        assertThat(argv.subList(0, 7)).containsExactly("/bin/sh", "-c", BwrapCommand.JOIN_ONLY, "sh", "0",
                "/usr/bin/pasta", "--");
        assertThat(argv.subList(7, 16)).containsExactly("/bin/sh", "-c", BwrapCommand.LIMITS, "sh", "1024",
                Long.toString((64L << 20) / 512), "-", SeccompFilters.shared().file(true).toString(), "/usr/bin/bwrap");
        assertThat(argv.get(argv.indexOf("--unshare-all") + 1)).isEqualTo("--share-net");
        assertThat(indexOfPair(argv, "/data/work/e1/etc/hosts", "/etc/hosts")).isPositive();
    }

    @Test
    void jobTypeEnvironmentComesAfterAndOverridesTheBase() {
        List<String> argv = command.build(layout, List.of(), true, false, Map.of("LANG", "de_DE.UTF-8", "X", "1"), 1 << 20);
        assertThat(indexOfPair(argv, "PATH", "/usr/local/bin:/usr/bin:/bin")).isPositive();
        assertThat(indexOfPair(argv, "LANG", "de_DE.UTF-8")).isGreaterThan(indexOfPair(argv, "LANG", "C.UTF-8"));
        assertThat(indexOfPair(argv, "X", "1")).isPositive();
    }

    @Test
    void wrapperJoinsEveryCgroupFileThenExecs() throws Exception {
        Path a = Files.writeString(temp.resolve("procs a"), "");
        Path b = Files.writeString(temp.resolve("procs;$(touch pwned)"), "");
        Process p = new ProcessBuilder("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "2", a.toString(), b.toString(),
                "1024", "-", "-", "", "/bin/echo", "ran").directory(temp.toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(p.getInputStream().readAllBytes())).isEqualTo("ran\n");
        assertThat(Files.readString(a).trim()).isEqualTo(Long.toString(p.pid()));
        assertThat(Files.readString(b).trim()).isEqualTo(Long.toString(p.pid()));
        assertThat(temp.resolve("pwned")).doesNotExist();
    }

    @Test
    void wrapperSetsTheRlimitsHardAndOpensTheFilterOnFd3() throws Exception {
        Path filter = Files.writeString(temp.resolve("filter;$(touch pwned).bpf"), "12345678");
        Process p = new ProcessBuilder("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "0", "100", "2048", "-",
                filter.toString(), "/bin/sh", "-c", "ulimit -H -c; ulimit -c; ulimit -H -n; ulimit -n; ulimit -H -f; "
                        + "cat <&3").directory(temp.toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(p.getErrorStream().readAllBytes())).isEmpty();
        assertThat(new String(p.getInputStream().readAllBytes())).isEqualTo("0\n0\n100\n100\n2048\n12345678");
        assertThat(temp.resolve("pwned")).doesNotExist();
    }

    @Test
    void wrapperFailsWithTheSetupMarkerWhenTheFilterIsUnreadableOrALimitInvalid() throws Exception {
        for (List<String> args : List.of(List.of("1024", "-", "-", temp.resolve("missing.bpf").toString()),
                List.of("not-a-number", "-", "-", ""))) {
            List<String> argv = new java.util.ArrayList<>(List.of("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "0"));
            argv.addAll(args);
            argv.addAll(List.of("/bin/echo", "ran"));
            Process p = new ProcessBuilder(argv).start();
            assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(args.toString()).isEqualTo(ResultClassifier.SETUP_EXIT_CODE);
            String stderr = new String(p.getErrorStream().readAllBytes());
            assertThat(stderr).contains(ResultClassifier.SETUP_MARKER);
            assertThat(new String(p.getInputStream().readAllBytes())).isEmpty();
        }
    }

    @Test
    void wrapperFailsWithTheSetupMarkerWhenACgroupCannotBeJoined() throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "1",
                temp.resolve("missing/cgroup.procs").toString(), "1024", "-", "-", "", "/bin/echo", "ran").start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ResultClassifier.SETUP_EXIT_CODE);
        String stderr = new String(p.getErrorStream().readAllBytes());
        assertThat(ResultClassifier.setupFailure(p.exitValue(), stderr.substring(stderr.indexOf(ResultClassifier.SETUP_MARKER))))
                .isNotNull();
        assertThat(new String(p.getInputStream().readAllBytes())).isEmpty();
    }

    @Test
    void usrLocalStaysVisibleOnlyForAnInterpreterThatLivesThere() {
        assertThat(BwrapCommand.livesInUsrLocal(Path.of("/usr/local/bin/python3.13"))).isTrue();
        assertThat(BwrapCommand.livesInUsrLocal(Path.of("/usr/bin/python3"))).isFalse();
        assertThat(BwrapCommand.livesInUsrLocal(null)).isFalse();
        assertThat(command.hostTreeArgs(Path.of("/usr/local/bin/python3.13"))).doesNotContain("/usr/local");
        if (java.nio.file.Files.isDirectory(Path.of("/usr/local"))) {
            assertThat(command.hostTreeArgs(Path.of("/usr/bin/python3"))).contains("/usr/local");
        }
    }

    @Test
    void withoutRootThereIsNoSetpriv() {
        List<String> argv = command.launcher(List.of(), -1, null, SandboxRlimits.forJob(1 << 20, 1 << 20, 0));
        assertThat(argv).noneMatch(a -> a.contains("setpriv") || a.startsWith("--reuid"));
    }
}
