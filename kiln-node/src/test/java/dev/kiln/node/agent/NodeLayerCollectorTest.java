package dev.kiln.node.agent;

import static dev.kiln.node.agent.TestLayers.type;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.JobType;
import dev.kiln.node.NodeExecutors;
import dev.kiln.sandbox.LayerLease;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.PipSources;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's layer collector on a real layer store, with layers pip builds offline from wheels written here. Removals
 * run on the calling thread (a direct executor) and time is a clock the test moves, so nothing is waited for.
 */
class NodeLayerCollectorTest {
    private static final Duration TTL = Duration.ofDays(7);

    @TempDir
    static Path temp;
    private static Path wheels;

    private final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
    private final String cgroupParent = "kiln-test-" + UUID.randomUUID().toString().substring(0, 8);
    private LayerStore layers;
    private NodeLayerCollector lastCollector;

    @BeforeAll
    static void writeWheels() throws IOException {
        TestLayers.assumeSandbox();
        wheels = TestLayers.wheels(temp);
    }

    @AfterEach
    void closeStore() throws IOException {
        if (layers != null) layers.close();
        TestLayers.removeCgroup(cgroupParent);
    }

    @Test
    void aSupersededLayerGoesOnceNoOtherTypeRunsOnItAndNoLeaseHoldsIt() {
        NodeEnvironments node = node(openStore("superseded"));
        String a = node.digestToRun(type("ml", "kilnpkga==1.0"));

        try (NodeLayerCollector.ExecutionHold running = node.hold(a)) { // an execution on the old layer still runs
            run(node, type("ml", "kilnpkga==1.0"));
            run(node, type("etl", "kilnpkga==1.0")); // the same definition: the same layer
            String b = run(node, type("ml", "kilnpkga==2.0"));
            assertThat(b).isNotEqualTo(a);
            assertThat(layers.exists(a)).as("etl still runs on it").isTrue();

            run(node, type("etl", "kilnpkga==2.0"));
            assertThat(layers.exists(a)).as("superseded for both, but an execution holds it").isTrue();
        }
        assertThat(layers.exists(a)).as("gone once its last lease closed").isFalse();
        assertThat(layers.digests()).containsExactly(node.digestToRun(type("ml", "kilnpkga==2.0")));
    }

    @Test
    void aLayerUnusedForTheTtlGoesAtTheNextSweepAndARecentlyUsedOneStays() {
        NodeEnvironments node = node(openStore("idle"));
        NodeLayerCollector collector = lastCollector;
        String old = run(node, type("old", "kilnpkga==1.0"));
        String recent = run(node, type("recent", "kilnpkga==2.0"));

        clock.advance(TTL.minusHours(1));
        run(node, type("recent", "kilnpkga==2.0"));
        assertThat(collector.sweep()).as("nothing is a whole TTL old yet").isZero();

        clock.advance(Duration.ofHours(2));
        try (LayerLease warm = layers.acquire(old)) { // e.g. a warm sandbox still on it
            assertThat(collector.sweep()).isZero();
            assertThat(layers.exists(old)).as("leased").isTrue();
        }
        assertThat(layers.exists(old)).as("idle, and gone once released").isFalse();
        assertThat(layers.exists(recent)).isTrue();

        clock.advance(TTL);
        assertThat(collector.sweep()).isEqualTo(1);
        assertThat(layers.digests()).isEmpty();
        assertThat(run(node, type("recent", "kilnpkga==2.0"))).as("a next job builds it anew").isEqualTo(recent);
        assertThat(layers.exists(recent)).isTrue();
    }

    @Test
    void aRestartedNodeKeepsLayersYoungerThanTheTtlBeforeSeeingTheirTypes() {
        String old;
        String young;
        NodeEnvironments before = node(openStore("restart"));
        old = run(before, type("old", "kilnpkga==1.0"));
        clock.advance(TTL.minusDays(1));
        young = run(before, type("young", "kilnpkga==2.0"));
        layers.close();

        clock.advance(Duration.ofDays(2)); // old: 8 days unused, young: 1 day
        node(openStore("restart"));
        assertThat(layers.digests()).containsExactlyInAnyOrder(old, young);
        assertThat(lastCollector.sweep()).isEqualTo(1);
        assertThat(layers.digests()).containsExactly(young);
    }

    @Test
    void sweepsComeHourlyOrTwicePerTtlWhenShorter() {
        assertThat(NodeLayerCollector.sweepInterval(Duration.ofDays(7))).isEqualTo(Duration.ofHours(1));
        assertThat(NodeLayerCollector.sweepInterval(Duration.ofMinutes(30))).isEqualTo(Duration.ofMinutes(15));
    }

    /** A node's environments and collector on {@code store}, without warm pools, removing on the calling thread. */
    private NodeEnvironments node(LayerStore store) {
        lastCollector = new NodeLayerCollector(store, new NodePools(null, "bwrap", 1), TTL, clock, Runnable::run);
        return new NodeEnvironments(store, lastCollector);
    }

    private LayerStore openStore(String name) {
        layers = new LayerStore(temp.resolve(name + "-layers"), NodeExecutors.bwrapConfig(Path.of("/usr/bin/bwrap"),
                Path.of("/usr/bin/python3"), cgroupParent), PipSources.localOnly(List.of(wheels)));
        return layers;
    }

    /** What an execution of {@code type} does with its layer: hold it, provision it, let it go. Returns the digest. */
    private static String run(NodeEnvironments node, JobType type) {
        String digest = node.digestToRun(type);
        try (NodeLayerCollector.ExecutionHold hold = node.hold(digest)) {
            node.provision(type, digest);
        }
        return digest;
    }



    private static final class TestClock extends Clock {
        private Instant now;

        TestClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}
