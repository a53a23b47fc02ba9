package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.cli.cluster.KilnProcesses;
import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * "After a kill -9 no mount of Kiln's may remain on the host": real {@code kiln server} and {@code kiln node}
 * processes with the bwrap executor hold /output tmpfs mounts (their warm pools' under {@code warm/}, a running cold
 * job's under {@code work/}) that only their own mount namespace shows; killed with SIGKILL, the namespace dies with
 * them, and the data directory can be deleted at once.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MountNamespaceTest {
    @TempDir
    Path dir;

    private void requirements() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root: without root Kiln mounts nothing (not available here)");
        // searchable by the sandbox user, so the data directories are used in place (not /var/tmp/kiln/<hash>)
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    }

    @Test
    void onlyTheCommandsThatRunSandboxesAreReexecuted() {
        for (String yes : List.of("server", "server --port 0", "demo", "devstack --executor bwrap", "bench python",
                "node --orchestrator http://127.0.0.1:1")) {
            assertThat(MountNamespace.runsSandboxes(yes.split(" "))).as(yes).isTrue();
        }
        for (String no : List.of("", "--help", "server --help", "server -h", "node", "node list", "node drain n1",
                "run python -c x", "job list", "job-type list", "-V")) {
            assertThat(MountNamespace.runsSandboxes(no.isEmpty() ? new String[0] : no.split(" "))).as(no).isFalse();
        }
    }

    @Test
    void aServerKilledWithSigkillLeavesNoMountOnTheHost() throws Exception {
        requirements();
        Path data = dir.resolve("server-data");
        int port = KilnProcesses.freePort();
        String url = "http://127.0.0.1:" + port;
        try (KilnProcesses kiln = new KilnProcesses(dir)) {
            Process server = kiln.server(data, port, "server", "--executor", "bwrap", "--slots", "2");
            kiln.awaitHealthy(url, server, "server");
            requireOwnNamespace(kiln.log("server"));
            KilnClient client = new KilnClient(url);
            assertThat(client.execute(JobRequest.python("print(1 + 1)")).stdout()).isEqualTo("2\n");

            killedLeavesNothing(server, data, client, kiln.log("server"));
        }
    }

    @Test
    void aNodeKilledWithSigkillLeavesNoMountOnTheHost() throws Exception {
        requirements();
        Path orchestratorData = dir.resolve("orchestrator-data");
        Path data = dir.resolve("node-data");
        int port = KilnProcesses.freePort();
        String url = "http://127.0.0.1:" + port;
        String id = "mntns-" + UUID.randomUUID().toString().substring(0, 8); // its cgroup parent: kiln-<id>
        try (KilnProcesses kiln = new KilnProcesses(dir)) {
            Process orchestrator = kiln.server(orchestratorData, port, "orchestrator", "--local-node", "false");
            kiln.awaitHealthy(url, orchestrator, "orchestrator");
            Process node = kiln.node(url, data, "node", "--node-id", id, "--executor", "bwrap", "--slots", "2");
            KilnClient client = new KilnClient(url);
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                    .until(() -> {
                        if (!node.isAlive()) throw new AssertionError("node exited: " + kiln.log("node"));
                        return client.node(id).get("status").asString().equals("ready");
                    });
            requireOwnNamespace(kiln.log("node"));
            // a node keeps a warm pool for a job type once the type has run on it
            assertThat(client.execute(JobRequest.python("print(1 + 1)")).stdout()).isEqualTo("2\n");

            killedLeavesNothing(node, data, client, kiln.log("node"));
            assertThat(orchestrator.isAlive()).isTrue();
        }
    }

    /**
     * What a Kiln without a namespace of its own left on the host (an older version, or KILN_MOUNT_NS=off as here)
     * is still cleaned by the next start: the stale mounts are copied into the new namespace and unmounted there,
     * and deleting their directories detaches the host's copies too.
     */
    @Test
    void aServerInItsOwnNamespaceStillCleansWhatAKilledServerWithoutOneLeftOnTheHost() throws Exception {
        requirements();
        Path data = dir.resolve("server-data");
        int port = KilnProcesses.freePort();
        String url = "http://127.0.0.1:" + port;
        Path real;
        try (KilnProcesses kiln = new KilnProcesses(dir)) {
            Process old = kiln.serverWithEnv(Map.of(MountNamespace.ENV, "off"), data, port, "old", "--executor",
                    "bwrap", "--slots", "2");
            kiln.awaitHealthy(url, old, "old");
            real = data.toRealPath();
            Awaitility.await("the old server's warm mounts, on the host").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), real).size() >= 2);
            KilnProcesses.kill9(old);
            assertThat(tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), real)).as("left by the kill").isNotEmpty();

            Process server = kiln.server(data, port, "new", "--executor", "bwrap", "--slots", "2");
            kiln.awaitHealthy(url, server, "new");
            requireOwnNamespace(kiln.log("new"));
            assertThat(new KilnClient(url).execute(JobRequest.python("print(1 + 1)")).stdout()).isEqualTo("2\n");
            assertThat(tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), real)).as("left on the host").isEmpty();
        } finally {
            for (Path p : tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), dir.toRealPath())) {
                new ProcessBuilder("umount", "-l", p.toString()).start().waitFor(); // when the test failed
            }
        }
    }

    @Test
    void theReexecutedProcessKeepsItsPidCommandLineEnvironmentDirectoryAndOutput() throws Exception {
        requirements();
        int port = KilnProcesses.freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx200m", "-Dkiln.test.marker=a b",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "server", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--data-dir", "data with space", "--executor", "noop",
                "--cgroup-parent", dev.kiln.sandbox.BwrapConfig.throwAwayCgroupParent("kiln-mntns"));
        Path log = dir.resolve("server.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("KILN_CONFIG");
        pb.environment().put("KILN_TEST_VALUE", "x=y z");
        pb.environment().put(MountNamespace.ENV, "12345"); // a parent Kiln's: not this process's, so replaced
        Process p = pb.start();
        try {
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> !p.isAlive() || Files.readString(log).contains("Kiln is running"));
            String out = Files.readString(log);
            assertThat(p.isAlive()).as(out).isTrue();
            requireOwnNamespace(out);
            assertThat(out.split("mounts live in a mount namespace", -1)).as("re-executed once").hasSize(2);
            assertThat(split(Files.readAllBytes(Path.of("/proc/" + p.pid() + "/cmdline")))).isEqualTo(cmd);
            List<String> env = split(Files.readAllBytes(Path.of("/proc/" + p.pid() + "/environ")));
            assertThat(env).contains("KILN_TEST_VALUE=x=y z", MountNamespace.ENV + "=" + p.pid())
                    .doesNotContain(MountNamespace.ENV + "=12345");
            assertThat(env).hasSize(pb.environment().size());
            assertThat(Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/cwd"))).isEqualTo(dir.toRealPath());
            assertThat(Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/fd/1"))).isEqualTo(log.toRealPath());
            assertThat(dir.resolve("data with space/kiln.db")).exists();
            // the first image's descriptors were close-on-exec: no jar (nor the JDK's lib/modules) is open twice
            List<String> files = new ArrayList<>();
            try (var fds = Files.list(Path.of("/proc/" + p.pid() + "/fd"))) {
                for (Path fd : fds.toList()) {
                    try {
                        String target = Files.readSymbolicLink(fd).toString();
                        if (target.endsWith(".jar") || target.endsWith("/lib/modules")) files.add(target);
                    } catch (IOException e) {
                        // closed meanwhile
                    }
                }
            }
            assertThat(files).as("open jars").isNotEmpty().doesNotHaveDuplicates();
        } finally {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
        }
    }

    private static List<String> split(byte[] nulSeparated) {
        return MountNamespace.split(nulSeparated).stream().map(String::new).toList();
    }

    /**
     * With a cold job running (its /output under work/) and the warm pool filled (under warm/): the mounts show in
     * the process's own mountinfo and not in the host's; after a SIGKILL the namespace is gone (no process holds it),
     * no mount is left under the data directory, and {@code rm -rf} of it succeeds.
     */
    private static void killedLeavesNothing(Process kiln, Path data, KilnClient client, String log)
            throws Exception {
        // input files Python imports at start-up make a job start cold: its /output is mounted under work/
        JobResponse sleeper = client.submit(JobRequest.python("import time\ntime.sleep(120)").withTimeout(150)
                .withFiles(Map.of("sitecustomize.py", new byte[0])));
        Path mountinfo = Path.of("/proc/" + kiln.pid() + "/mountinfo");
        Path real = data.toRealPath();
        Awaitility.await("warm and work mounts in the process's own view").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(200)).until(() -> {
                    if (!kiln.isAlive()) throw new AssertionError("exited; its log:\n" + log);
                    List<Path> own = tmpfsMountsUnder(mountinfo, real);
                    return own.stream().anyMatch(p -> p.startsWith(real.resolve("warm")))
                            && own.stream().anyMatch(p -> p.startsWith(real.resolve("work")));
                });
        assertThat(client.get(sleeper.jobId(), 0).status()).isEqualTo("running");
        assertThat(tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), real)).as("the host's view").isEmpty();
        String namespace = Files.readSymbolicLink(Path.of("/proc/" + kiln.pid() + "/ns/mnt")).toString();
        assertThat(namespace).isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString());

        KilnProcesses.kill9(kiln);

        // its sandboxes (children of its namespace) die with it (--die-with-parent), and with the last the namespace
        Awaitility.await("no process left in " + namespace).atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(100)).until(() -> holders(namespace).isEmpty());
        assertThat(tmpfsMountsUnder(Path.of("/proc/self/mountinfo"), real)).as("left on the host").isEmpty();
        Process rm = new ProcessBuilder("rm", "-rf", data.toString()).redirectErrorStream(true).start();
        String rmOutput = new String(rm.getInputStream().readAllBytes());
        assertThat(rm.waitFor()).as("rm -rf " + data + ": " + rmOutput).isZero();
        assertThat(data).doesNotExist();
    }

    /** Skips, saying why, where the kernel refuses a new mount namespace (no CAP_SYS_ADMIN, e.g. a container). */
    private static void requireOwnNamespace(String log) {
        assumeFalse(log.contains("unshare(CLONE_NEWNS): Operation not permitted"),
                "this machine refuses a new mount namespace: " + log.lines()
                        .filter(l -> l.contains("MountNamespace")).findFirst().orElse(""));
        assertThat(log).contains("mounts live in a mount namespace of this process's own");
    }

    /** Mount points of tmpfs strictly below {@code root} in a mountinfo. */
    static List<Path> tmpfsMountsUnder(Path mountinfo, Path root) throws IOException {
        List<Path> out = new ArrayList<>();
        for (String line : Files.readAllLines(mountinfo)) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 1 >= f.length || !f[dash + 1].equals("tmpfs")) continue;
            Path p = Path.of(f[4].replace("\\040", " "));
            if (p.startsWith(root) && !p.equals(root)) out.add(p);
        }
        return out;
    }

    /** Processes whose mount namespace is {@code namespace} ({@code mnt:[inode]}). */
    private static List<Long> holders(String namespace) throws IOException {
        List<Long> out = new ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.toList()) {
                if (!p.getFileName().toString().chars().allMatch(Character::isDigit)) continue;
                try {
                    if (Files.readSymbolicLink(p.resolve("ns/mnt")).toString().equals(namespace)) {
                        out.add(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (IOException e) {
                    // gone, or not ours to read
                }
            }
        }
        return out;
    }
}
