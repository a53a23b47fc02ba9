package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.NetworkPolicy;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Egress of network-enabled job types, cold and warm, against test hosts this class creates in a network namespace
 * of its own ({@link TestNetHosts}) and servers it starts on the host: nothing is sent anywhere else.
 */
class EgressTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String PROBE = """
            import socket
            def probe(host, port):
                try:
                    s = socket.create_connection((host, port), timeout=3)
                    try: data = s.recv(100).decode().strip()
                    finally: s.close()
                    return 'ok ' + data
                except OSError as e:
                    return 'no ' + type(e).__name__
            for h, p in TARGETS:
                print(h, p, probe(h, p))
            """;

    private static Path temp;
    private static TestNetHosts hosts;
    private static ServerSocket loopback;
    private static ServerSocket wildcard;
    private static String parent;
    private static BwrapExecutor executor;
    private static final AtomicInteger runs = new AtomicInteger();
    private static final AtomicInteger accepted = new AtomicInteger();

    @BeforeAll
    static void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(Files.isExecutable(UserNetwork.PASTA), "pasta is not installed (apt-get install -y passt)");
        assumeTrue(Files.isExecutable(UserNetwork.NFT), "nft is not installed (apt-get install -y nftables)");
        assumeTrue(TestNetHosts.toolsPresent(), "ip (iproute2) is not installed");
        temp = Files.createTempDirectory("kiln-egress");
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        // before the executor: the sandboxes' filters snapshot the host's addresses, the veth's included
        hosts = TestNetHosts.create();
        loopback = serve(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        wildcard = serve(new InetSocketAddress(0)); // every address of the host, IPv4 and IPv6
        parent = SandboxTestSupport.uniqueParent();
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(parent), null, temp.resolve("warm"));
    }

    @AfterAll
    static void tearDown() throws IOException {
        try {
            if (executor != null) executor.close();
            for (ServerSocket s : new ServerSocket[] {loopback, wildcard}) if (s != null) s.close();
        } finally {
            if (hosts != null) hosts.close();
            if (temp != null) LayerFiles.deleteQuietly(temp);
        }
        if (executor != null) assertThat(processesWithMarker(temp.toString())).as("sandbox processes left").isEmpty();
    }

    /** Accepts and closes: any "ok" from the sandbox means it reached this host server. */
    private static ServerSocket serve(InetSocketAddress at) throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(at);
        Thread.ofVirtual().start(() -> {
            while (!s.isClosed()) {
                try (Socket c = s.accept()) {
                    accepted.incrementAndGet();
                } catch (IOException e) {
                    return;
                }
            }
        });
        return s;
    }

    private static JobType type(String name, boolean network, NetworkPolicy policy) {
        return new JobType(name, 256L << 20, 1.0, 30, 30, 64, network, Map.of(), null, JobType.DEFAULT_MAX_OUTPUT,
                JobType.DEFAULT_TMP_SIZE, PackageSpec.NONE, WarmPoolSpec.DEFAULT, null, policy);
    }

    /** Runs the probe of {@code targets} in a sandbox of {@code type}; warm: from its pool (asserted a hit). */
    private static Map<String, String> probe(JobType type, boolean warm, List<String[]> targets) throws IOException {
        StringBuilder t = new StringBuilder("TARGETS = [");
        for (String[] target : targets) t.append("(").append(py(target[0])).append(", ").append(target[1]).append("), ");
        String code = t.append("]\n").append(PROBE).toString();
        long hitsBefore = 0;
        if (warm) {
            executor.configurePool(type, null, PoolSettings.of(1));
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> stats(type).ready() >= 1);
            hitsBefore = stats(type).hits();
        }
        String id = "egress" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        Path work = Files.createDirectory(temp.resolve("work-" + runs.incrementAndGet()));
        ExecutionResult r = executor.execute(SandboxTestSupport.request(id, JobSpec.python(code), type, 40,
                OutputLimits.DEFAULTS), work);
        if (warm) {
            assertThat(stats(type).hits()).as("served warm").isEqualTo(hitsBefore + 1);
            executor.configurePool(type, null, PoolSettings.DISABLED);
        }
        assertThat(r.status()).as(r.stderr() + " " + r.error()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stderr()).as("nothing of pasta or the filter in the job's stderr").isEmpty();
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : r.stdout().split("\n")) {
            String[] f = line.split(" ", 3);
            out.put(f[0] + " " + f[1], f[2]);
        }
        System.out.println(type.name() + (warm ? " warm" : " cold") + ": " + out);
        return out;
    }

    private static WarmPoolStats stats(JobType type) {
        return executor.poolStats().stream().filter(s -> s.jobType().equals(type.name())).findFirst().orElseThrow();
    }

    private static String py(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static String[] target(String host, int port) {
        return new String[] {host, Integer.toString(port)};
    }

    @ParameterizedTest(name = "warm={0}")
    @ValueSource(booleans = {false, true})
    void aNetworkEnabledTypeReachesAPublicTestHostButNotTheHostNorPrivateOrLinkLocalAddresses(boolean warm)
            throws IOException {
        List<String[]> targets = new ArrayList<>();
        targets.add(target(hosts.publicA, TestNetHosts.PORT));
        targets.add(target(hosts.public6, TestNetHosts.PORT));
        targets.add(target("127.0.0.1", loopback.getLocalPort()));
        for (String[] a : TestNetHosts.hostAddresses()) {
            String host = a[0].startsWith("fe80:") ? a[0] + "%" + a[1] : a[0];
            targets.add(target(host, wildcard.getLocalPort()));
        }
        targets.add(target(hosts.privateHost, TestNetHosts.PORT));
        targets.add(target(hosts.linkLocal, TestNetHosts.PORT));
        int acceptedBefore = accepted.get();

        Map<String, String> out = probe(type("net-open", true, NetworkPolicy.OPEN), warm, targets);

        assertThat(out.get(hosts.publicA + " " + TestNetHosts.PORT)).isEqualTo("ok 18080 " + hosts.publicA);
        assertThat(out.get(hosts.public6 + " " + TestNetHosts.PORT)).as("IPv6 (neighbour discovery passes the filter)")
                .isEqualTo("ok 18080 " + hosts.public6);
        assertThat(out).hasSize(targets.size());
        out.forEach((k, v) -> {
            if (!k.startsWith(hosts.publicA + " ") && !k.startsWith(hosts.public6 + " ")) {
                assertThat(v).as(k).startsWith("no ");
            }
        });
        // the veth's host addresses, IPv4 and IPv6
        assertThat(out).containsKeys(hosts.hostSide + " " + wildcard.getLocalPort(),
                hosts.hostSide6 + " " + wildcard.getLocalPort());
        assertThat(accepted.get()).as("connections that reached the host's servers").isEqualTo(acceptedBefore);
    }

    @ParameterizedTest(name = "warm={0}")
    @ValueSource(booleans = {false, true})
    void withAnAllowListOnlyWhatItNamesIsReachableEvenInPrivateRanges(boolean warm) throws IOException {
        NetworkPolicy policy = NetworkPolicy.parse(List.of(hosts.publicA + ":" + TestNetHosts.PORT,
                hosts.privateHost + "/32"));
        Map<String, String> out = probe(type("net-allow", true, policy), warm, List.of(
                target(hosts.publicA, TestNetHosts.PORT),
                target(hosts.publicA, TestNetHosts.OTHER_PORT),
                target(hosts.publicB, TestNetHosts.PORT),
                target(hosts.privateHost, TestNetHosts.OTHER_PORT),
                target(hosts.linkLocal, TestNetHosts.PORT),
                target(hosts.hostSide, wildcard.getLocalPort()),
                target("127.0.0.1", loopback.getLocalPort())));

        assertThat(out.get(hosts.publicA + " " + TestNetHosts.PORT)).isEqualTo("ok 18080 " + hosts.publicA);
        assertThat(out.get(hosts.privateHost + " " + TestNetHosts.OTHER_PORT)).isEqualTo("ok 18081 " + hosts.privateHost);
        assertThat(out.get(hosts.publicA + " " + TestNetHosts.OTHER_PORT)).startsWith("no ");
        assertThat(out.get(hosts.publicB + " " + TestNetHosts.PORT)).startsWith("no ");
        assertThat(out.get(hosts.linkLocal + " " + TestNetHosts.PORT)).startsWith("no ");
        assertThat(out.get(hosts.hostSide + " " + wildcard.getLocalPort())).startsWith("no ");
        assertThat(out.get("127.0.0.1 " + loopback.getLocalPort())).startsWith("no ");
    }

    @ParameterizedTest(name = "warm={0}")
    @ValueSource(booleans = {false, true})
    void aTypeWithoutTheNetworkHasNoRoute(boolean warm) throws IOException {
        Map<String, String> out = probe(type("net-off", false, NetworkPolicy.OPEN), warm,
                List.<String[]>of(target(hosts.publicA, TestNetHosts.PORT)));
        assertThat(out.get(hosts.publicA + " " + TestNetHosts.PORT)).isEqualTo("no OSError");
    }

    @Test
    void theJobCannotChangeTheFilterOrSeeTheHostsNamespaces() throws IOException {
        String code = """
                import subprocess, socket
                r = subprocess.run(['/usr/sbin/nft', 'flush', 'ruleset'], capture_output=True)
                print('flush', r.returncode != 0)
                try:
                    socket.create_connection((PRIVATE, 18080), timeout=3); print('reached')
                except OSError:
                    print('refused')
                """.replace("PRIVATE", py(hosts.privateHost));
        Path work = Files.createDirectory(temp.resolve("work-" + runs.incrementAndGet()));
        ExecutionResult r = executor.execute(SandboxTestSupport.request("egress-nft-1", JobSpec.python(code),
                type("net-open", true, NetworkPolicy.OPEN), 20, OutputLimits.DEFAULTS), work);
        assertThat(r.stdout()).as(r.stderr()).isEqualTo("flush True\nrefused\n");
    }

    /** pasta itself (its process name), not a shell whose arguments still name it. */
    private static boolean isPasta(long pid) {
        try {
            String comm = Files.readString(Path.of("/proc", Long.toString(pid), "comm"));
            return comm.startsWith("pasta") || comm.startsWith("passt"); // Debian: passt.avx2
        } catch (IOException gone) {
            return false;
        }
    }

    /** pasta and the filter shell run in the execution's cgroup (limited and killed with it). */
    @Test
    void pastaRunsInTheExecutionsCgroup() throws Exception {
        Path work = Files.createDirectory(temp.resolve("work-" + runs.incrementAndGet()));
        var result = java.util.concurrent.CompletableFuture.supplyAsync(() -> executor.execute(SandboxTestSupport.request(
                "egress-cgroup-1", JobSpec.python("import time\ntime.sleep(30)\n"), type("net-open", true,
                        NetworkPolicy.OPEN), 40, OutputLimits.DEFAULTS), work));
        try {
            String log = work.resolve(WorkDirLayout.VIEW).resolve("etc").resolve("network.log").toString();
            // Until pasta runs: by then the first shell, which names the log before it joins the cgroups, has
            // exec'd into it (a shell caught before its join would be outside them for a moment).
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> executor.isRunning("egress-cgroup-1")
                    && processesWithMarker(log).stream().anyMatch(EgressTest::isPasta));
            for (long pid : processesWithMarker(log)) {
                String cgroups = Files.readString(Path.of("/proc", Long.toString(pid), "cgroup"));
                assertThat(cgroups).as("pid " + pid).contains("/" + parent + "/egress-cgroup-1");
            }
        } finally {
            executor.cancel("egress-cgroup-1");
        }
        assertThat(result.get(20, java.util.concurrent.TimeUnit.SECONDS).status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(processesWithMarker(work.toString())).isEmpty();
    }

    /**
     * A layer build that consults an index gets the same network: public hosts reachable, the host and link-local
     * not, and of the private ranges only its index's host and port (a mirror on the LAN).
     */
    @Test
    void aLayerBuildFromAnIndexGetsTheSameNetworkWithOnlyItsIndexLetIntoPrivateRanges() throws IOException {
        PipSources sources = new PipSources("http://" + hosts.privateHost + ":" + TestNetHosts.OTHER_PORT + "/simple",
                List.of(), List.of(), false);
        LayerBuildSandbox build = new LayerBuildSandbox(BwrapConfig.defaults(), executor.cgroups(), sources,
                LayerBuildLimits.DEFAULTS.withTimeout(Duration.ofSeconds(30)), true,
                SandboxUids.forHost(BwrapConfig.defaults(), true));
        Path staging = Files.createDirectory(temp.resolve("staging-" + runs.incrementAndGet()));
        LayerBuildCommand.Dirs dirs = build.prepare(staging, Files.createDirectory(staging.resolve("site")));
        List<String[]> targets = List.of(target(hosts.privateHost, TestNetHosts.OTHER_PORT),
                target(hosts.privateHost, TestNetHosts.PORT), target(hosts.publicA, TestNetHosts.PORT),
                target(hosts.hostSide, wildcard.getLocalPort()), target("127.0.0.1", loopback.getLocalPort()),
                target(hosts.linkLocal, TestNetHosts.PORT));
        StringBuilder t = new StringBuilder("TARGETS = [");
        for (String[] target : targets) t.append("(").append(py(target[0])).append(", ").append(target[1]).append("), ");
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        String error;
        try (BuildLog log = new BuildLog(staging.resolve("build.log"), lines::add)) {
            error = build.run(dirs, List.of("/usr/bin/python3", "-c", t + "]\n" + PROBE), log, "the probe");
        }
        assertThat(error).as(String.join("\n", lines)).isNull();
        System.out.println("layer build: " + lines);
        assertThat(lines).containsExactly(
                hosts.privateHost + " " + TestNetHosts.OTHER_PORT + " ok 18081 " + hosts.privateHost,
                hosts.privateHost + " " + TestNetHosts.PORT + " no ConnectionRefusedError",
                hosts.publicA + " " + TestNetHosts.PORT + " ok 18080 " + hosts.publicA,
                hosts.hostSide + " " + wildcard.getLocalPort() + " no ConnectionRefusedError",
                "127.0.0.1 " + loopback.getLocalPort() + " no ConnectionRefusedError",
                hosts.linkLocal + " " + TestNetHosts.PORT + " no ConnectionRefusedError");
    }

    /**
     * The parent of a network sandbox dies by SIGKILL (as Kiln's JVM would): pasta, the filter shell, bwrap and the
     * job go with it. The parent here is a shell, so the JVM running the test survives to check.
     */
    @Test
    void everyProcessOfANetworkSandboxDiesWithItsParent() throws Exception {
        Path dir = Files.createDirectory(temp.resolve("orphan-" + runs.incrementAndGet()));
        WorkDirLayout layout = WorkDirLayout.of(dir);
        layout.prepare("import time\ntime.sleep(50)\n", null, Map.of());
        BwrapConfig config = BwrapConfig.defaults();
        UserNetwork.Setup network = new UserNetwork(config.setpriv(), true).prepare(NetworkPolicy.OPEN, List.of(),
                layout.etc());
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "\"$@\" & wait", "sh"));
        argv.addAll(new BwrapCommand(config).build(layout, List.of(), true, network, Map.of(), 1 << 20, null));
        Process parentShell = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String marker = dir.toString();
        try {
            // up: pasta, the filter shell and both bwrap processes carry the work dir in their arguments
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20))
                    .until(() -> processesWithMarker(marker).size() >= 4 && pythonUnder(marker));
            assertThat(processesWithMarker(network.prefix().get(network.prefix().indexOf("-l") + 1))).as("pasta, by its log file").isNotEmpty();
            assertThat(UserNetwork.failure(layout.etc())).as("the filter is in").isNull();

            parentShell.destroyForcibly().waitFor();

            await().atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> processesWithMarker(marker).isEmpty() && !pythonUnder(marker));
        } finally {
            for (long pid : processesWithMarker(marker)) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** A python3 whose parent carries {@code marker}: the job of that sandbox. */
    private static boolean pythonUnder(String marker) {
        List<Long> parents = processesWithMarker(marker);
        return ProcessHandle.allProcesses().anyMatch(p -> p.info().command().orElse("").endsWith("python3.11")
                || p.info().command().orElse("").endsWith("python3")
                ? p.parent().map(pp -> parents.contains(pp.pid())).orElse(false) : false);
    }
}
