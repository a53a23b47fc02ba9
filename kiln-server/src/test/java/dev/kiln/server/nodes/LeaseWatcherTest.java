package dev.kiln.server.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.node.protocol.NodeMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The lease watcher against the test's monotonic clock: silent nodes are lost, unless the watcher was paused. */
class LeaseWatcherTest {
    private static final int LEASE_MS = 3000;
    private final AtomicLong nanos = new AtomicLong(5_000_000_000L);
    private final List<RemoteComputeNode> nodes = new ArrayList<>();
    private final List<String> expired = new ArrayList<>();
    private final List<Long> pauses = new ArrayList<>();
    private final LeaseWatcher watcher = new LeaseWatcher(LEASE_MS, nanos::get, () -> nodes,
            new LeaseWatcher.Listener() {
                @Override
                public void expired(RemoteComputeNode node) {
                    expired.add(node.id());
                    node.markLost();
                }

                @Override
                public void paused(long gapMillis) {
                    pauses.add(gapMillis);
                }
            });

    private RemoteComputeNode node(String id) {
        RemoteComputeNode n = new RemoteComputeNode(id, new NodeMessage.Hello(2, id, null, Map.of(), 1,
                Set.of("noop"), "noop", null, List.of()), () -> 1, 2000, nanos::get);
        nodes.add(n);
        return n;
    }

    /** Advances the clock by {@code millis} in watcher ticks, checking at each. */
    private void run(long millis) {
        for (long t = 0; t < millis; t += watcher.tickMillis()) {
            nanos.addAndGet(watcher.tickMillis() * 1_000_000L);
            watcher.check();
        }
    }

    @Test
    void aNodeSilentPastItsLeaseIsLostAndOneHeardFromIsNot() {
        RemoteComputeNode silent = node("silent");
        RemoteComputeNode talking = node("talking");

        for (int i = 0; i < 8; i++) {
            run(500);
            talking.heard();
        }

        assertThat(expired).containsExactly("silent");
        assertThat(silent.lost()).isTrue();
        assertThat(talking.lost()).isFalse();
        assertThat(pauses).isEmpty();
    }

    @Test
    void afterAPauseLongerThanTheLeaseEveryNodeGetsAFreshLeaseInsteadOfBeingLost() {
        RemoteComputeNode a = node("a");
        RemoteComputeNode b = node("b");
        run(1000);
        a.heard();
        b.heard();

        nanos.addAndGet(2L * LEASE_MS * 1_000_000L); // the orchestrator stood still (GC, SIGSTOP) for two leases
        watcher.check();

        assertThat(expired).as("nobody lost for the orchestrator's own pause").isEmpty();
        assertThat(pauses).singleElement().satisfies(ms -> assertThat(ms).isEqualTo(2L * LEASE_MS));
        // Their heartbeats are read now; b's never come: b is lost one lease later, a is not.
        for (int i = 0; i < 8; i++) {
            run(500);
            a.heard();
        }
        assertThat(expired).containsExactly("b");
        assertThat(a.lost()).isFalse();
    }

    @Test
    void aPauseShorterThanTheLeaseStillCountsWhenItWouldMakeHeartbeatsLookLate() {
        RemoteComputeNode a = node("a");
        run(1000); // a's last heartbeat was read 1 s ago; then 2.5 s of pause: 3.5 s silent, but not a's fault
        nanos.addAndGet(2500 * 1_000_000L);
        watcher.check();
        assertThat(expired).isEmpty();
        assertThat(a.lost()).isFalse();
    }
}
