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
        List<String> argv = command.build(layout, procs, true, false, Map.of(), 1 << 20);

        assertThat(argv.subList(0, 7)).containsExactly("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "2",
                procs.get(0).toString(), procs.get(1).toString());
        assertThat(argv.get(7)).isEqualTo("/usr/bin/setpriv");
        assertThat(argv).contains("--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all");
        assertThat(argv.subList(argv.indexOf("/usr/bin/bwrap"), argv.size())).startsWith("/usr/bin/bwrap", "--unshare-all",
                "--die-with-parent", "--new-session", "--clearenv");
        assertThat(argv).doesNotContain("--share-net");
        assertThat(argv.subList(argv.size() - 3, argv.size())).containsExactly("/usr/bin/python3", "-u", "/code/main.py");
        assertThat(indexOfPair(argv, "--cap-drop", "ALL")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/input", "/input")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/code", "/code")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/output", "/output")).isPositive();
        assertThat(indexOfPair(argv, "/data/work/e1/etc/passwd", "/etc/passwd")).isPositive();
        assertThat(indexOfPair(argv, "--size", Integer.toString(1 << 20))).isEqualTo(indexOfPair(argv, "--tmpfs", "/tmp") - 2);
        assertThat(argv).noneMatch(a -> a.startsWith("/root") || a.startsWith("/home") || a.equals("/etc/shadow"));
    }

    @Test
    void noSetprivWhenUnprivilegedAndNetworkOnlyWhenEnabled() {
        UserNetwork.Setup network = new UserNetwork.Setup(List.of("/usr/bin/pasta", "--"), Path.of("/data/work/e1/etc/hosts"));
        assertThat(command.build(layout, List.of(), false, false, Map.of(), 1 << 20)).doesNotContain("--share-net");
        List<String> argv = command.build(layout, List.of(), false, network, Map.of(), 1 << 20);
        assertThat(argv).doesNotContain("/usr/bin/setpriv");
        // the network prefix (pasta) runs first; bwrap then shares pasta's namespace, never the host's
        assertThat(argv.subList(0, 7)).containsExactly("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "0", "/usr/bin/pasta",
                "--");
        assertThat(argv.get(7)).isEqualTo("/usr/bin/bwrap");
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
                "/bin/echo", "ran").directory(temp.toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(p.getInputStream().readAllBytes())).isEqualTo("ran\n");
        assertThat(Files.readString(a).trim()).isEqualTo(Long.toString(p.pid()));
        assertThat(Files.readString(b).trim()).isEqualTo(Long.toString(p.pid()));
        assertThat(temp.resolve("pwned")).doesNotExist();
    }

    @Test
    void wrapperFailsWithTheSetupMarkerWhenACgroupCannotBeJoined() throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "1",
                temp.resolve("missing/cgroup.procs").toString(), "/bin/echo", "ran").start();
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(ResultClassifier.SETUP_EXIT_CODE);
        String stderr = new String(p.getErrorStream().readAllBytes());
        assertThat(ResultClassifier.setupFailure(p.exitValue(), stderr.substring(stderr.indexOf(ResultClassifier.SETUP_MARKER))))
                .isNotNull();
        assertThat(new String(p.getInputStream().readAllBytes())).isEmpty();
    }
}
