package dev.kiln.sandbox;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * close() of an executor whose warm pools are busy refilling, stopped at varied points: every sandbox ever spawned
 * is destroyed (cgroup, work dir, /output mount, process) and every layer lease released.
 */
class WarmPoolsShutdownTest {
    private static final int ROUNDS = 30;
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path temp;

    /** Where in the pool's life close() comes. */
    private enum Moment {
        RIGHT_AFTER_CONFIGURE,
        DURING_REFILL,
        RIGHT_AFTER_A_TAKE,
        DURING_IDLE_TTL_REPLACEMENT,
        /** A refill thread paused between starting its sandbox and the rendezvous (held at the pools' lock). */
        SPAWN_PAUSED_BEFORE_RENDEZVOUS
    }

    @Test
    void closeWhileRefillingDestroysEverySandboxAndReleasesEveryLease() throws Exception {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        // one parent cgroup for the store and every executor: each close() must leave it empty, and so remove it
        String parent = SandboxTestSupport.uniqueParent();
        BwrapConfig config = BwrapConfig.defaults().withCgroupParent(parent);
        Path shared = Files.createDirectory(temp.resolve("shared-src"));
        Files.writeString(shared.resolve("kilnhelpers.py"), "X = 1\n");
        LayerStore store = new LayerStore(temp.resolve("layers"), config, PipSources.DEFAULT);
        try {
            PackageSpec spec = new PackageSpec(null, List.of(), List.of(shared.resolve("kilnhelpers.py").toString()));
            BuildOutcome built = store.build(spec, null);
            assertThat(built.success()).as(built.log()).isTrue();
            String digest = built.digest();
            JobType type = new JobType("warm", JobType.DEFAULT_MEMORY, 1.0, 30, 300, 64, false, Map.of(), null,
                    JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE, spec);
            long seed = System.nanoTime();
            Random random = new Random(seed);
            for (int round = 0; round < ROUNDS; round++) {
                Moment moment = Moment.values()[round % Moment.values().length];
                String label = "round " + round + " (" + moment + ", seed " + seed + ")";
                Path warmRoot = temp.resolve("warm-" + round);
                BwrapExecutor executor = new BwrapExecutor(config, store, warmRoot);
                try {
                    closeAt(moment, executor, type, digest, random, round);
                } finally {
                    executor.close();
                }
                assertNothingLeft(label, parent, warmRoot, store, digest);
            }
        } finally {
            store.close();
        }
    }

    private void closeAt(Moment moment, BwrapExecutor executor, JobType type, String digest, Random random, int round)
            throws Exception {
        PoolSettings settings = new PoolSettings(3, 1 + random.nextInt(3), PoolSettings.DEFAULT_IDLE_TTL);
        switch (moment) {
            case RIGHT_AFTER_CONFIGURE -> executor.configurePool(type, digest, settings);
            case DURING_REFILL -> {
                executor.configurePool(type, digest, settings);
                Thread.sleep(random.nextInt(300));
            }
            case RIGHT_AFTER_A_TAKE -> {
                executor.configurePool(type, digest, settings);
                await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).until(() -> ready(executor) >= 1);
                ExecutionResult r = run(executor, type, digest, round);
                assertThat(r.stdout()).as(r.toString()).isEqualTo("1\n");
                Thread.sleep(random.nextInt(20));
            }
            case DURING_IDLE_TTL_REPLACEMENT -> {
                executor.configurePool(type, digest,
                        new PoolSettings(2, 2, Duration.ofMillis(50 + random.nextInt(150))));
                Thread.sleep(200 + random.nextInt(400));
            }
            case SPAWN_PAUSED_BEFORE_RENDEZVOUS -> {
                WarmPools pools = executor.pools();
                synchronized (pools) {
                    executor.configurePool(type, digest, settings);
                    // the refill threads start their sandboxes (which join their cgroups meanwhile), then wait for
                    // this lock before the rendezvous: shutdown() kills them first, as when such a thread is
                    // descheduled there
                    Thread.sleep(50 + random.nextInt(150));
                    pools.shutdown();
                }
            }
        }
    }

    private static int ready(BwrapExecutor executor) {
        return executor.poolStats().stream().mapToInt(WarmPoolStats::ready).sum();
    }

    private ExecutionResult run(BwrapExecutor executor, JobType type, String digest, int round) throws IOException {
        String id = "job" + round + "-1";
        Path workDir = Files.createDirectory(temp.resolve("work-" + round));
        ExecutionRequest req = new ExecutionRequest(id, "job" + round, 1, JobSpec.python("import kilnhelpers\n"
                + "print(kilnhelpers.X)\n"), type, 10, OutputLimits.DEFAULTS, digest);
        return executor.execute(req, workDir);
    }

    private void assertNothingLeft(String label, String parent, Path warmRoot, LayerStore store, String digest)
            throws IOException {
        Path root = BwrapConfig.defaults().cgroupRoot();
        List<Path> parents = new ArrayList<>(List.of(root.resolve(parent)));
        for (String controller : List.of("memory", "pids", "cpu", "freezer")) {
            parents.add(root.resolve(controller).resolve(parent));
        }
        for (Path p : parents) {
            if (Files.isDirectory(p)) {
                try (var children = Files.list(p)) {
                    assertThat(children.map(c -> c.getFileName().toString()).filter(n -> n.startsWith("warm-")))
                            .as(label + ": warm cgroups left under " + p).isEmpty();
                }
            }
            assertThat(p).as(label + ": parent cgroup removed").doesNotExist();
        }
        assertThat(store.leaseCount(digest)).as(label + ": layer leases released").isZero();
        try (var entries = Files.list(warmRoot)) {
            assertThat(entries.toList()).as(label + ": warm sandbox dirs left").isEmpty();
        }
        assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).as(label + ": mounts left")
                .doesNotContain(warmRoot.toRealPath().toString());
        assertThat(processesWithMarker(warmRoot.toString())).as(label + ": sandbox processes left").isEmpty();
    }
}
