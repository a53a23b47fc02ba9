package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.NodeStore;
import dev.kiln.core.NodeStore.NodeRow;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What every {@link NodeStore} backend must do; one subclass per backend, the in-memory one included. */
abstract class NodeStoreContract {
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    /** A store over empty storage. */
    protected abstract NodeStore nodes();

    @Test
    void aJoinedNodeIsListedWithItsReplicaAndView() {
        NodeStore store = nodes();
        NodeRow row = store.joined("n1", "replica-a", "{\"id\":\"n1\"}", T0);
        assertThat(row).isEqualTo(new NodeRow("n1", "replica-a", false, false, "{\"id\":\"n1\"}", T0));
        assertThat(store.list()).containsExactly(row);
        assertThat(store.find("n2")).isEmpty();
    }

    @Test
    void publishingUpdatesViewsAndKeepsTheOperatorsMarks() {
        NodeStore store = nodes();
        store.joined("n1", "replica-a", "{}", T0);
        store.setDraining("n1", true, T0.plusSeconds(1));
        Map<String, String> views = new LinkedHashMap<>();
        views.put("n1", "{\"v\":2}");
        views.put("n2", "{\"v\":1}");
        store.publish("replica-b", views, T0.plusSeconds(2));
        assertThat(store.list()).containsExactly(
                new NodeRow("n1", "replica-b", true, false, "{\"v\":2}", T0.plusSeconds(2)),
                new NodeRow("n2", "replica-b", false, false, "{\"v\":1}", T0.plusSeconds(2)));
        store.publish("replica-b", Map.of(), T0.plusSeconds(3)); // nothing to write is not an error
    }

    @Test
    void aDrainSurvivesAReconnectButNotARemoval() {
        NodeStore store = nodes();
        store.joined("n1", "replica-a", "{}", T0);
        store.setDraining("n1", true, T0);
        assertThat(store.joined("n1", "replica-b", "{}", T0.plusSeconds(1)).draining()).isTrue();
        store.setDraining("n1", false, T0.plusSeconds(2));
        assertThat(store.find("n1").orElseThrow().draining()).isFalse();

        store.setDraining("n1", true, T0.plusSeconds(3));
        store.markRemoved("n1", T0.plusSeconds(4));
        NodeRow removed = store.find("n1").orElseThrow();
        assertThat(removed.removed()).isTrue();
        NodeRow back = store.joined("n1", "replica-a", "{}", T0.plusSeconds(5));
        assertThat(back.removed()).isFalse();
        assertThat(back.draining()).as("a removed node comes back as a new one").isFalse();
    }

    @Test
    void drainingANodeNoReplicaPublishedYetKeepsTheMarkForItsJoin() {
        NodeStore store = nodes();
        store.setDraining("later", true, T0);
        assertThat(store.find("later").orElseThrow().view()).isNull();
        assertThat(store.joined("later", "replica-a", "{}", T0.plusSeconds(1)).draining()).isTrue();
    }

    @Test
    void deleteForgetsTheNode() {
        NodeStore store = nodes();
        store.joined("n1", "replica-a", "{}", T0);
        store.markRemoved("absent", T0); // no row: nothing happens
        store.delete("n1");
        store.delete("n1");
        assertThat(store.list()).isEmpty();
    }

    @Test
    void nodesNotPublishedForLongAreForgotten() {
        NodeStore store = nodes();
        store.joined("old", "replica-a", "{}", T0);
        store.joined("new", "replica-a", "{}", T0.plusSeconds(100));
        assertThat(store.deleteNotPublishedSince(T0.plusSeconds(50))).isEqualTo(1);
        assertThat(store.list()).extracting(NodeRow::id).containsExactly("new");
    }
}
