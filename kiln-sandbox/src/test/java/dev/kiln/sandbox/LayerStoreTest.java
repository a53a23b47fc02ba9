package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Real pip (offline, from wheels this test writes), real bubblewrap, real cgroups. The class shares one store and
 * executor, and the layer of {@link #specV1}, built once.
 */
class LayerStoreTest {
    @TempDir
    static Path temp;

    private static String parent;
    private static BwrapConfig config;
    private static Path wheels;
    private static Path sharedSrc;
    private static LayerStore store;
    private static BwrapExecutor executor;
    private static PackageSpec specV1;
    private static BuildOutcome builtV1;
    private static int workDirs;

    @BeforeAll
    static void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(pipUsable(), "/usr/bin/python3 -m pip is not available");
        // the sandbox user must reach the layer root, the wheels and the work dirs (as under a 0755 data directory)
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        wheels = dir(temp.resolve("wheels"));
        TestWheels.write(wheels, "kilnpkga", "1.0", Map.of("kilnpkga/__init__.py", "VALUE = 42\n"), List.of());
        TestWheels.write(wheels, "kilnpkga", "2.0", Map.of("kilnpkga/__init__.py", "VALUE = 43\n"), List.of());
        TestWheels.write(wheels, "kilnpkgb", "1.0", Map.of("kilnpkgb/__init__.py",
                "from kilnpkga import VALUE\nDOUBLE = VALUE * 2\n"), List.of("kilnpkga"));

        sharedSrc = dir(temp.resolve("shared-src"));
        Files.writeString(sharedSrc.resolve("kilnhelpers.py"), "def greet():\n    return 'hello from shared'\n");
        Path pkg = dir(sharedSrc.resolve("kilnshared"));
        Files.writeString(pkg.resolve("__init__.py"), "");
        Files.writeString(pkg.resolve("sub.py"), "ANSWER = 'sub'\n");
        specV1 = new PackageSpec(null, List.of("kilnpkgb", "kilnpkga==1.0"), sharedCode());

        parent = SandboxTestSupport.uniqueParent();
        config = BwrapConfig.defaults().withCgroupParent(parent);
        store = new LayerStore(temp.resolve("layers"), config, PipSources.localOnly(List.of(wheels)));
        executor = new BwrapExecutor(config, store);
        builtV1 = store.build(specV1, null);
        System.out.println("first build of v1: " + builtV1.millis() + " ms, ranPip=" + builtV1.ranPip());
        assertThat(builtV1.success()).as(builtV1.log()).isTrue();
    }

    @AfterAll
    static void tearDown() {
        if (executor == null) return;
        assertThat(executor.cgroups().children()).as("cgroups left under " + parent).isEmpty();
        executor.close();
        store.close();
    }

    private static boolean pipUsable() {
        return HostCommand.run(List.of("/usr/bin/python3", "-m", "pip", "--version"), Duration.ofSeconds(30)).ok();
    }

    private static Path dir(Path p) throws IOException {
        Files.createDirectories(p);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    private static List<String> sharedCode() {
        return List.of(sharedSrc.resolve("kilnhelpers.py").toString(), sharedSrc.resolve("kilnshared").toString());
    }

    private static String newId() {
        return "layerjob" + UUID.randomUUID().toString().substring(0, 8) + "-1";
    }

    private static Path newWorkDir() throws IOException {
        Path d = temp.resolve("work-" + (++workDirs));
        Files.createDirectory(d);
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx--x--x"));
        return d;
    }

    private static ExecutionRequest request(String id, String code, String layerDigest) {
        return new ExecutionRequest(id, id.replaceAll("-\\d+$", ""), 1, new JobSpec(code, null, Map.of(), "default", null),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS, layerDigest);
    }

    private static ExecutionResult run(String code, String layerDigest) throws IOException {
        ExecutionResult r = executor.execute(request(newId(), code, layerDigest), newWorkDir());
        System.out.println("status=" + r.status() + " error=" + r.error() + "\nstdout=" + r.stdout() + "\nstderr=" + r.stderr());
        return r;
    }

    @Test
    void packagesAndSharedCodeAreImportableOnlyOnTheLayer() throws IOException {
        String code = """
                import sys, kilnpkga, kilnpkgb, kilnhelpers
                from kilnshared import sub
                print(kilnpkgb.DOUBLE, kilnpkga.VALUE, kilnhelpers.greet(), sub.ANSWER)
                print(sys.executable, kilnpkga.__file__, kilnhelpers.__file__)
                try:
                    open("/kiln/site/evil.py", "w")
                    print("site writable")
                except OSError as e:
                    print("site:", e.strerror)
                """;
        ExecutionResult r = run(code, builtV1.digest());

        assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("84 42 hello from shared sub\n"
                + "/usr/bin/python3 /kiln/site/kilnpkga/__init__.py /kiln/shared/kilnhelpers.py\n"
                + "site: Read-only file system\n");
        assertThat(store.leaseCount(builtV1.digest())).as("lease released after the execution").isZero();

        ExecutionResult bare = run("import kilnpkgb\n", null);
        assertThat(bare.status()).isEqualTo(JobStatus.FAILED);
        assertThat(bare.error().type()).isEqualTo(ErrorType.RUNTIME_ERROR);
        assertThat(bare.error().message()).isEqualTo("ModuleNotFoundError: No module named 'kilnpkgb'");
    }

    @Test
    void theLayerLooksAsDocumented() throws IOException {
        Layer layer = builtV1.layer();
        Path dir = store.root().resolve(builtV1.digest());
        assertThat(layer.dir()).isEqualTo(dir);
        assertThat(layer.sitePackages()).isEqualTo(dir.resolve("site"));
        assertThat(layer.sharedCode()).isEqualTo(dir.resolve("shared"));
        assertThat(layer.interpreter().path()).isEqualTo(Path.of("/usr/bin/python3"));
        assertThat(layer.interpreter().version()).matches("3\\.\\d+\\.\\d+");
        assertThat(Files.exists(dir.resolve("site/kilnpkgb/__init__.py"))).isTrue();
        assertThat(Files.exists(dir.resolve("shared/kilnshared/sub.py"))).isTrue();
        assertThat(Files.readString(dir.resolve("build.log"))).contains("Successfully installed kilnpkga-1.0 kilnpkgb-1.0");
        assertThat(Files.readString(dir.resolve("layer.properties"))).contains("digest=" + builtV1.digest());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwxr-xr-x");
        // nothing of the build's sandbox user is left in the layer
        try (Stream<Path> all = Files.walk(dir)) {
            assertThat(all.toList()).allSatisfy(p -> assertThat(Files.getAttribute(p, "unix:uid",
                    java.nio.file.LinkOption.NOFOLLOW_LINKS)).as(p.toString()).isEqualTo(0));
        }
        assertThat(builtV1.log()).contains("Successfully installed");
        assertThat(store.find(builtV1.digest())).contains(layer);
        assertThat(store.find("../etc")).isEmpty();
    }

    @Test
    void rebuildingTheSameSpecReusesTheLayerWithoutPip() {
        List<String> lines = new CopyOnWriteArrayList<>();
        BuildOutcome again = store.build(specV1, lines::add);

        System.out.println("rebuild of v1: " + again.millis() + " ms, ranPip=" + again.ranPip());
        assertThat(again.success()).isTrue();
        assertThat(again.ranPip()).isFalse();
        assertThat(again.digest()).isEqualTo(builtV1.digest());
        assertThat(again.layer()).isEqualTo(builtV1.layer());
        assertThat(again.millis()).isLessThan(1_000);
        assertThat(lines).isEmpty();
        assertThat(store.digest(specV1)).isEqualTo(builtV1.digest());
    }

    @Test
    void theDigestIsStableAcrossStores() {
        try (LayerStore other = new LayerStore(store.root(), config, PipSources.localOnly(List.of(wheels)))) {
            assertThat(other.digest(specV1)).isEqualTo(builtV1.digest());
            assertThat(other.find(builtV1.digest())).contains(builtV1.layer());
        }
    }

    @Test
    void aChangedRequirementIsANewLayerWhileJobsOnTheOldOneKeepRunning() throws Exception {
        String v1 = builtV1.digest();
        // the job blocks until the test creates /input/go, then imports from its layer
        String code = """
                import os, time
                while not os.path.exists("/input/go"):
                    time.sleep(0.02)
                import kilnpkga
                print(kilnpkga.VALUE)
                """;
        String id = newId();
        Path work = newWorkDir();
        CompletableFuture<ExecutionResult> job = CompletableFuture.supplyAsync(
                () -> executor.execute(request(id, code, v1), work));
        await().atMost(Duration.ofSeconds(20)).until(() -> executor.isRunning(id));
        assertThat(store.leaseCount(v1)).isEqualTo(1);

        PackageSpec specV2 = new PackageSpec(null, List.of("kilnpkgb", "kilnpkga==2.0"), sharedCode());
        BuildOutcome v2 = store.build(specV2, null);
        System.out.println("build of v2 while a job runs on v1: " + v2.millis() + " ms");

        assertThat(v2.success()).as(v2.log()).isTrue();
        assertThat(v2.ranPip()).isTrue();
        assertThat(v2.digest()).isNotEqualTo(v1);
        assertThat(store.find(v1)).isPresent();
        assertThat(store.find(v2.digest())).isPresent();
        assertThat(executor.isRunning(id)).as("the job on v1 still runs after v2 was built").isTrue();
        // the running job's layer is leased: a collection that keeps everything else leaves it alone
        Set<String> allButV1 = new HashSet<>(store.digests());
        allButV1.remove(v1);
        assertThat(store.removeUnused(allButV1)).isZero();
        assertThat(store.find(v1)).isPresent();

        Files.writeString(work.resolve("sandbox/input/go"), ""); // WorkDirLayout: input/ is in the view
        ExecutionResult r = job.get(30, TimeUnit.SECONDS);
        assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("42\n");
        assertThat(store.leaseCount(v1)).isZero();

        ExecutionResult onV2 = run("import kilnpkga, kilnpkgb\nprint(kilnpkga.VALUE, kilnpkgb.DOUBLE)\n", v2.digest());
        assertThat(onV2.stdout()).isEqualTo("43 86\n");
    }

    @Test
    void aBadRequirementFailsWithPipsMessageAndLeavesOnlyAFailedLog() throws IOException {
        List<String> lines = new CopyOnWriteArrayList<>();
        PackageSpec bad = new PackageSpec(null, List.of("kilnpkga==1.0", "nosuchpkg"), List.of());
        BuildOutcome out = store.build(bad, lines::add);
        System.out.println("failed build: " + out.millis() + " ms, error=" + out.error());

        assertThat(out.success()).isFalse();
        assertThat(out.ranPip()).isTrue();
        assertThat(out.layer()).isNull();
        assertThat(out.error()).contains("No matching distribution found for nosuchpkg");
        assertThat(out.log()).contains("No matching distribution found for nosuchpkg");
        assertThat(lines).anyMatch(l -> l.contains("No matching distribution found for nosuchpkg"));
        assertThat(store.root().resolve(out.digest())).doesNotExist();
        Path failedLog = store.root().resolve(out.digest() + ".failed.log");
        assertThat(Files.readString(failedLog)).contains("No matching distribution found for nosuchpkg");
        assertThat(stagingDirs()).isEmpty();
        assertThat(store.find(builtV1.digest())).isPresent();

        // a later attempt replaces the log
        BuildOutcome again = store.build(bad, null);
        assertThat(again.success()).isFalse();
        assertThat(Files.readString(failedLog)).hasSize(again.log().length());
        assertThat(stagingDirs()).isEmpty();
    }

    private static List<Path> stagingDirs() throws IOException {
        try (Stream<Path> s = Files.list(store.root())) {
            return s.filter(p -> p.getFileName().toString().startsWith(".")).toList();
        }
    }

    @Test
    void concurrentBuildsOfOneDigestRunPipOnce() throws Exception {
        PackageSpec spec = new PackageSpec(null, List.of("kilnpkga==2.0"), List.of());
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<BuildOutcome>> builds = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            builds.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return store.build(spec, null);
            }));
        }
        go.countDown();
        BuildOutcome a = builds.get(0).get(60, TimeUnit.SECONDS);
        BuildOutcome b = builds.get(1).get(60, TimeUnit.SECONDS);

        assertThat(a.success()).as(a.log()).isTrue();
        assertThat(b.success()).as(b.log()).isTrue();
        assertThat(a.digest()).isEqualTo(b.digest());
        assertThat(List.of(a.ranPip(), b.ranPip())).containsExactlyInAnyOrder(true, false);
        assertThat(a.layer()).isEqualTo(b.layer());
    }

    @Test
    void anExecutionOnALayerThatIsNotBuiltFailsInSetup() throws IOException {
        String missing = "0".repeat(64);
        ExecutionResult r = run("print('never')\n", missing);

        assertThat(r.status()).isEqualTo(JobStatus.FAILED);
        assertThat(r.error().type()).isEqualTo(ErrorType.SANDBOX_ERROR);
        assertThat(r.error().phase()).isEqualTo(JobError.PHASE_SETUP);
        assertThat(r.error().message()).isEqualTo("layer " + missing + " of job type default is not built");
        assertThat(store.leaseCount(missing)).isZero();
    }

    @Test
    void removeUnusedKeepsKeptAndLeasedLayersAndRemovesTheRest() throws IOException {
        Path src = dir(temp.resolve("gc-src"));
        List<String> digests = new ArrayList<>();
        try (LayerStore gc = new LayerStore(temp.resolve("gc-layers"), config, PipSources.localOnly(List.of(wheels)))) {
            for (String name : List.of("a.py", "b.py", "c.py")) {
                Files.writeString(src.resolve(name), "X = '" + name + "'\n");
                BuildOutcome out = gc.build(new PackageSpec(null, List.of(), List.of(src.resolve(name).toString())), null);
                assertThat(out.success()).as(out.log()).isTrue();
                assertThat(out.ranPip()).isFalse();
                digests.add(out.digest());
            }
            Path stale = dir(gc.root().resolve(".build-" + "f".repeat(64) + "-dead"));
            Files.writeString(stale.resolve("junk"), "x");
            Path oldFailedLog = gc.root().resolve("e".repeat(64) + ".failed.log");
            Files.writeString(oldFailedLog, "old");

            String a = digests.get(0);
            String b = digests.get(1);
            String c = digests.get(2);
            try (LayerLease lease = gc.acquire(a)) {
                assertThat(gc.removeUnused(Set.of(b))).isEqualTo(1);
                assertThat(gc.digests()).containsExactlyInAnyOrder(a, b);
                assertThat(gc.find(c)).isEmpty();
                assertThat(stale).doesNotExist();
                assertThat(oldFailedLog).doesNotExist();
                assertThat(gc.leaseCount(a)).isEqualTo(1);
            }
            assertThat(gc.leaseCount(a)).isZero();
            assertThat(gc.removeUnused(Set.of(b))).isEqualTo(1);
            assertThat(gc.digests()).containsExactly(b);
            try (Stream<Path> left = Files.list(gc.root())) {
                assertThat(left.map(p -> p.getFileName().toString()).toList()).containsExactly(b);
            }
        }
    }

    @Test
    void aLayerRemembersItsLastUseAndGoesOnlyWhenNoLeaseHoldsIt() throws IOException {
        Path src = dir(temp.resolve("use-src"));
        Files.writeString(src.resolve("used.py"), "X = 1\n");
        try (LayerStore one = new LayerStore(temp.resolve("use-layers"), config, PipSources.localOnly(List.of(wheels)))) {
            BuildOutcome out = one.build(new PackageSpec(null, List.of(), List.of(src.resolve("used.py").toString())),
                    null);
            assertThat(out.success()).as(out.log()).isTrue();
            String digest = out.digest();
            List<String> released = new CopyOnWriteArrayList<>();
            one.onLastLeaseClosed(released::add);

            java.time.Instant weekAgo = java.time.Instant.now().minus(Duration.ofDays(7)).truncatedTo(
                    java.time.temporal.ChronoUnit.SECONDS);
            assertThat(one.markUsed(digest, weekAgo)).isTrue();
            assertThat(one.lastUsed(digest)).contains(weekAgo);
            assertThat(one.find(digest)).as("marking changes nothing inside").isPresent();
            assertThat(one.markUsed("0".repeat(64), weekAgo)).isFalse();
            assertThat(one.lastUsed("0".repeat(64))).isEmpty();

            LayerLease first = one.acquire(digest);
            LayerLease second = one.acquire(digest);
            assertThat(one.removeIfUnleased(digest)).isFalse();
            first.close();
            assertThat(released).as("one lease is still open").isEmpty();
            assertThat(one.removeIfUnleased(digest)).isFalse();
            second.close();
            second.close();
            assertThat(released).containsExactly(digest);
            assertThat(one.removeIfUnleased(digest)).isTrue();
            assertThat(one.exists(digest)).isFalse();
            assertThat(one.removeIfUnleased(digest)).isFalse();
            try (Stream<Path> left = Files.list(one.root())) {
                assertThat(left.toList()).as("no trash left behind").isEmpty();
            }
        }
    }

    @Test
    void theDigestCoversSharedCodeRequirementsAndSources() throws IOException {
        Path src = dir(temp.resolve("digest-src"));
        Path module = src.resolve("mod.py");
        Files.writeString(module, "A = 1\n");
        Path pkg = dir(src.resolve("pkg"));
        Files.writeString(pkg.resolve("__init__.py"), "");
        PackageSpec shared = new PackageSpec(null, List.of(), List.of(module.toString(), pkg.toString()));
        String base = store.digest(shared);

        assertThat(store.digest(shared)).isEqualTo(base);
        Files.writeString(module, "A = 2\n");
        assertThat(store.digest(shared)).isNotEqualTo(base);
        Files.writeString(module, "A = 1\n");
        assertThat(store.digest(shared)).isEqualTo(base);
        Files.writeString(pkg.resolve("more.py"), "");
        assertThat(store.digest(shared)).isNotEqualTo(base);
        Files.delete(pkg.resolve("more.py"));
        dir(pkg.resolve("__pycache__"));
        Files.writeString(pkg.resolve("__pycache__/x.pyc"), "cache");
        assertThat(store.digest(shared)).as("byte-code caches are not code").isEqualTo(base);

        Files.createSymbolicLink(pkg.resolve("link.py"), module);
        assertThatThrownBy(() -> store.digest(shared)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("symlink");
        Files.delete(pkg.resolve("link.py"));
        assertThatThrownBy(() -> store.digest(new PackageSpec(null, List.of(), List.of("relative/x.py"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be absolute");
        assertThatThrownBy(() -> store.digest(new PackageSpec(null, List.of("--index-url=http://x"), List.of())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pip option");

        PackageSpec ab = new PackageSpec(null, List.of("kilnpkga", "kilnpkgb"), List.of());
        PackageSpec ba = new PackageSpec(null, List.of("kilnpkgb", "kilnpkga"), List.of());
        assertThat(store.digest(ab)).isNotEqualTo(store.digest(ba));
        assertThat(store.digest(new PackageSpec("3", List.of("kilnpkga"), List.of())))
                .as("'3' resolves to the default interpreter here").isEqualTo(store.digest(new PackageSpec(null,
                        List.of("kilnpkga"), List.of())));

        // pip's sources count only where pip runs: a new wheel in a find-links directory changes the digest
        Path otherWheels = dir(temp.resolve("digest-wheels"));
        try (LayerStore local = new LayerStore(temp.resolve("digest-layers"), config, PipSources.localOnly(List.of(otherWheels)));
             LayerStore indexed = new LayerStore(temp.resolve("digest-layers"), config,
                     new PipSources(null, List.of(), List.of(otherWheels), false))) {
            String before = local.digest(ab);
            assertThat(indexed.digest(ab)).isNotEqualTo(before);
            assertThat(local.digest(shared)).isEqualTo(base);
            TestWheels.write(otherWheels, "kilnpkgc", "1.0", Map.of("kilnpkgc/__init__.py", ""), List.of());
            assertThat(local.digest(ab)).isNotEqualTo(before);
        }
    }

    @Test
    void theBuildSandboxCanWriteOnlyItsStagingDirs() throws IOException {
        Path staging = dir(store.root().resolve(".build-sandbox-test"));
        Path site = dir(staging.resolve("site"));
        try (BuildLog log = new BuildLog(staging.resolve("build.log"), null)) {
            LayerBuildCommand.Dirs dirs = store.sandbox().prepare(staging, site);
            String script = """
                    import os
                    targets = ["/kiln/site/ok.txt", "/tmp/ok.txt", "/usr/kiln-evil", "/etc/passwd", "/etc/kiln-evil",
                               "/kiln/find-links/0/evil.whl", "%s/evil", "%s/evil", "/kiln-evil", "/proc/kiln-evil"]
                    for t in targets:
                        try:
                            with open(t, "a") as f:
                                f.write("x")
                            print("WROTE", t)
                        except OSError as e:
                            print("DENIED", t, e.strerror)
                    for p in ["%s", "%s", "/root", "/home", "/var", "/sys/fs/cgroup"]:
                        print("VISIBLE" if os.path.exists(p) else "ABSENT", p)
                    print("uid", os.getuid(), os.geteuid())
                    """.formatted(store.root(), temp, store.root(), temp);
            String error = store.sandbox().run(dirs, List.of("/usr/bin/python3", "-c", script), log, "probe");
            assertThat(error).as(String.join("\n", log.tail())).isNull();
            List<String> out = log.tail();
            System.out.println(String.join("\n", out));

            assertThat(out).contains("WROTE /kiln/site/ok.txt", "WROTE /tmp/ok.txt", "uid 65534 65534");
            assertThat(out).filteredOn(l -> l.startsWith("WROTE")).hasSize(2);
            assertThat(out).filteredOn(l -> l.startsWith("VISIBLE")).isEmpty();
            assertThat(site.resolve("ok.txt")).exists();
            assertThat((Integer) Files.getAttribute(site.resolve("ok.txt"), "unix:uid")).as("the build's own uid")
                    .isBetween((int) SandboxUidRange.DEFAULT.first(), (int) SandboxUidRange.DEFAULT.last());
            try (Stream<Path> w = Files.list(wheels)) {
                assertThat(w.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("evil"));
            }
            assertThat(Path.of("/usr/kiln-evil")).doesNotExist();
            assertThat(Path.of("/etc/kiln-evil")).doesNotExist();
        } finally {
            LayerFiles.deleteQuietly(staging);
        }
    }

    @Test
    void buildsAreKilledAtTheirTimeoutAndMemoryLimit() throws IOException {
        LayerBuildLimits tight = new LayerBuildLimits(64L << 20, 64, 1.0, Duration.ofSeconds(1));
        try (LayerStore limited = new LayerStore(temp.resolve("limits-layers"), config,
                PipSources.localOnly(List.of(wheels)), tight);
             BuildLog log = new BuildLog(dir(temp.resolve("limits-layers/.build-limits")).resolve("build.log"), null)) {
            Path staging = log.file().getParent();
            LayerBuildCommand.Dirs dirs = limited.sandbox().prepare(staging, dir(staging.resolve("site")));
            long start = System.nanoTime();
            String slow = limited.sandbox().run(dirs, List.of("/usr/bin/python3", "-c",
                    "import time\nprint('sleeping', flush=True)\ntime.sleep(60)"), log, "probe");
            assertThat(slow).isEqualTo("probe did not finish within 1 s");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThat(log.tail()).contains("sleeping");

            String hungry = limited.sandbox().run(dirs, List.of("/usr/bin/python3", "-c",
                    "b = bytearray(512 << 20)\nprint(len(b))"), log, "probe");
            assertThat(hungry).isEqualTo("probe exceeded the build memory limit of 64m");
            assertThat(executor.cgroups().children()).isEmpty();
        }
    }

    @Test
    void aLayerStoreRefusesARootTheSandboxUserCannotReach() throws IOException {
        Path closed = temp.resolve("closed");
        Files.createDirectory(closed);
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
        assertThatThrownBy(() -> new LayerStore(closed.resolve("layers"), config, PipSources.DEFAULT))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(closed + " lacks the search permission for others");
        assertThatThrownBy(() -> new LayerStore(temp.resolve("x-layers"), config,
                PipSources.localOnly(List.of(temp.resolve("no-such-wheels")))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not exist");
    }
}
