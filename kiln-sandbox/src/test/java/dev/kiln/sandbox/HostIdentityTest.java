package dev.kiln.sandbox;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static dev.kiln.sandbox.SandboxTestSupport.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real sandboxes, seen from the host: which host uid each live sandbox (cold, warm) runs as, and what of the host a
 * job can read about itself (mountinfo, /usr/local), and what it cannot link or create in /output.
 */
class HostIdentityTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    @TempDir
    Path temp;

    private String parent;
    private BwrapConfig config;
    private BwrapExecutor executor;
    private int runs;
    private final ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        config = BwrapConfig.defaults().withCgroupParent(parent);
        executor = new BwrapExecutor(config, null, temp.resolve("warm"));
    }

    @AfterEach
    void tearDown() {
        background.shutdownNow();
        if (executor == null) return;
        executor.close();
        assertThat(executor.cgroups().children()).as("cgroups left under " + parent).isEmpty();
    }

    private Path newWorkDir() throws IOException {
        return Files.createDirectory(temp.resolve("work-" + (++runs)));
    }

    private static String newId() {
        return "job" + UUID.randomUUID().toString().substring(0, 8) + "-1";
    }

    private static String describe(ExecutionResult r) {
        return "status=" + r.status() + " exit=" + r.exitCode() + " error=" + r.error() + "\nstdout=" + r.stdout()
                + "\nstderr=" + r.stderr();
    }

    /** The real, effective, saved and file-system uids of a host process. */
    private static List<Long> hostUids(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Uid:")) {
                return java.util.Arrays.stream(line.substring(4).trim().split("\\s+")).map(Long::parseLong).toList();
            }
        }
        throw new IOException("no Uid line for " + pid);
    }

    /** A job that starts a child carrying {@code marker} on its command line, says who it is and waits. */
    private static String holdWithMarker(String marker) {
        return """
                import os, subprocess, time
                subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(30)", "%s"])
                print(os.getuid(), os.geteuid(), flush=True)
                time.sleep(2.5)
                """.formatted(marker);
    }

    private long hostUidOf(String marker) throws IOException {
        await().atMost(WAIT).until(() -> !processesWithMarker(marker).isEmpty());
        List<Long> uids = hostUids(processesWithMarker(marker).getFirst());
        assertThat(new HashSet<>(uids)).as("real, effective, saved and fs uid agree").hasSize(1);
        return uids.getFirst();
    }

    @Test
    void concurrentSandboxesRunAsDistinctHostUidsFromTheRangeAndNeverAsNobody() throws Exception {
        List<String> markers = new ArrayList<>();
        List<CompletableFuture<ExecutionResult>> results = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String marker = "kiln-uid-probe-" + UUID.randomUUID();
            markers.add(marker);
            ExecutionRequest req = request(newId(), holdWithMarker(marker));
            Path work = newWorkDir();
            results.add(CompletableFuture.supplyAsync(() -> executor.execute(req, work), background));
        }
        Set<Long> seen = new HashSet<>();
        for (String m : markers) seen.add(hostUidOf(m));
        System.out.println("host uids of three concurrent sandboxes: " + seen);
        for (var f : results) {
            ExecutionResult r = f.get(20, TimeUnit.SECONDS);
            assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(r.stdout()).as("inside, the job is nobody").isEqualTo("65534 65534\n");
        }
        assertThat(seen).hasSize(3).allSatisfy(uid -> {
            assertThat(uid).isBetween(SandboxUidRange.DEFAULT.first(), SandboxUidRange.DEFAULT.last());
            assertThat(uid).isNotEqualTo(65534L);
        });
        for (String m : markers) assertThat(processesWithMarker(m)).as("nothing of the job outlives it").isEmpty();
        // every uid went back once its cgroup was empty: the lowest one is free again
        SandboxUids.Lease next = SandboxUids.of(SandboxUidRange.DEFAULT).lease();
        try {
            assertThat((long) next.uid()).isLessThanOrEqualTo(seen.stream().min(Long::compare).orElseThrow());
        } finally {
            next.release(true);
        }
    }

    @Test
    void warmSandboxesHoldUidsOfTheirOwnWhileTheyWait() throws Exception {
        JobType type = JobType.defaults("warm-uids");
        executor.configurePool(type, null, PoolSettings.of(2));
        await().atMost(WAIT).until(() -> executor.pools().ready("warm-uids").size() == 2);
        Set<Long> warm = new HashSet<>();
        for (WarmSandbox s : executor.pools().ready("warm-uids")) {
            List<Long> uids = hostUids(s.process().pid()); // bwrap itself, after the wrapper's exec chain
            warm.add(uids.getFirst());
        }
        String marker = "kiln-uid-probe-" + UUID.randomUUID();
        ExecutionRequest cold = request(newId(), holdWithMarker(marker)); // type "default": no pool, a cold start
        Path work = newWorkDir();
        var result = CompletableFuture.supplyAsync(() -> executor.execute(cold, work), background);
        long coldUid = hostUidOf(marker);
        System.out.println("warm sandboxes: " + warm + ", a cold one meanwhile: " + coldUid);
        assertThat(warm).hasSize(2).doesNotContain(coldUid, 65534L);
        assertThat(result.get(20, TimeUnit.SECONDS).status()).isEqualTo(JobStatus.SUCCEEDED);
        executor.configurePool(type, null, PoolSettings.DISABLED);
    }

    @Test
    void mountinfoNamesNoHostPathOfTheDataDirectoryAndNoExecutionId() throws IOException {
        String id = "exec" + UUID.randomUUID().toString().replace("-", "").substring(0, 12) + "-1";
        Path dataDir = Files.createDirectories(temp.resolve("kiln-data-dir/work"));
        Path work = Files.createDirectory(dataDir.resolve(id)); // what a node does: <data>/work/<execution id>
        String code = """
                print(open("/proc/self/mountinfo").read())
                print(open("/proc/self/cgroup").read())
                """;
        ExecutionResult r = executor.execute(request(id, code), work);
        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        System.out.println(r.stdout());
        assertThat(r.stdout()).doesNotContain(temp.toString(), "kiln-data-dir", id, id.replaceAll("-\\d+$", ""))
                .contains(" /input /input ", " /code /code ", " /etc/passwd /etc/passwd ");
    }

    @Test
    void usrLocalIsAnEmptyReadOnlyDirectory() throws IOException {
        Path marker = Path.of("/usr/local/kiln-visible-" + UUID.randomUUID());
        Files.createDirectory(marker);
        try {
            String code = """
                    import os
                    print(sorted(os.listdir("/usr/local")))
                    try:
                        open("/usr/local/x", "w")
                        print("wrote")
                    except OSError as e:
                        print(type(e).__name__, e.errno)
                    print(os.path.exists("/usr/bin/python3"))
                    """;
            ExecutionResult r = executor.execute(request(newId(), code), newWorkDir());
            assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(r.stdout()).isEqualTo("[]\nOSError 30\nTrue\n"); // EROFS
        } finally {
            Files.delete(marker);
        }
    }

    @Test
    void noHardLinkOrDeviceNodeCanBeMadeInOutput() throws IOException {
        String code = """
                import os, stat
                for src in ["/input/data.json", "/usr/bin/python3", "/etc/passwd", "/tmp/mine"]:
                    if src == "/tmp/mine":
                        open(src, "w").write("x")
                    try:
                        os.link(src, "/output/" + os.path.basename(src))
                        print("linked", src)
                    except OSError as e:
                        print("link", src, e.errno)
                try:
                    os.mknod("/output/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
                    print("mknod ok")
                except OSError as e:
                    print("mknod", e.errno)
                """;
        var spec = new JobSpec(code, "{}", Map.of(), "default", null);
        ExecutionResult r = executor.execute(request(newId(), spec, JobType.defaults("default"), 10,
                OutputLimits.DEFAULTS), newWorkDir());
        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        // EXDEV: /output is a mount of its own (a tmpfs), no file of another mount can be linked into it
        assertThat(r.stdout()).isEqualTo("link /input/data.json 18\nlink /usr/bin/python3 18\nlink /etc/passwd 18\n"
                + "link /tmp/mine 18\nmknod 1\n");
        assertThat(r.artifacts()).isEmpty();
    }

    @Test
    void aLayerBuildHoldsAUidOfItsOwnBesideARunningJob() throws Exception {
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (LayerStore store = new LayerStore(temp.resolve("layers"), config, PipSources.localOnly(List.of()))) {
            Path staging = store.root().resolve(".build-uid-probe");
            LayerFiles.mkdir(staging);
            Path site = staging.resolve("site");
            LayerFiles.mkdir(site);
            String buildMarker = "kiln-uid-probe-" + UUID.randomUUID();
            String jobMarker = "kiln-uid-probe-" + UUID.randomUUID();
            try (BuildLog log = new BuildLog(staging.resolve("build.log"), null)) {
                LayerBuildCommand.Dirs dirs = store.sandbox().prepare(staging, site);
                var build = CompletableFuture.supplyAsync(() -> store.sandbox().run(dirs,
                        List.of("/usr/bin/python3", "-c", holdWithMarker(buildMarker)), log, "probe"), background);
                ExecutionRequest req = request(newId(), holdWithMarker(jobMarker));
                Path work = newWorkDir();
                var job = CompletableFuture.supplyAsync(() -> executor.execute(req, work), background);
                long buildUid = hostUidOf(buildMarker);
                long jobUid = hostUidOf(jobMarker);
                System.out.println("a layer build: " + buildUid + ", a job meanwhile: " + jobUid);
                assertThat(buildUid).isNotEqualTo(jobUid).isNotEqualTo(65534L)
                        .isBetween(SandboxUidRange.DEFAULT.first(), SandboxUidRange.DEFAULT.last());
                assertThat(build.get(20, TimeUnit.SECONDS)).as(String.join("\n", log.tail())).isNull();
                assertThat(log.tail()).contains("65534 65534");
                assertThat(job.get(20, TimeUnit.SECONDS).status()).isEqualTo(JobStatus.SUCCEEDED);
            } finally {
                LayerFiles.deleteQuietly(staging);
            }
        }
    }
}
