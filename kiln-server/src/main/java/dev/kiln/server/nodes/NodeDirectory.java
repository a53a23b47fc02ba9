package dev.kiln.server.nodes;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.KilnException;
import dev.kiln.core.NodeStore;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.StoreSignals;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The nodes of every replica sharing the store, for the node API of any one of them. A replica knows its own
 * nodes live (those connected to it, and its in-process node) and publishes what they look like to the
 * {@link NodeStore} every {@link #PUBLISH_EVERY} when that changed (at least every {@link #REFRESH_EVERY}); it shows
 * the others' nodes as last published. Drains and removals are written to the store and signalled
 * ({@link StoreSignals.Topic#NODES}); the replica holding the node applies them. A drain is kept in the store, so it
 * holds across a node's move to another replica and across restarts.
 */
public final class NodeDirectory implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeDirectory.class);
    static final Duration PUBLISH_EVERY = Duration.ofSeconds(2);
    static final Duration REFRESH_EVERY = Duration.ofSeconds(10);
    /** A node whose replica has not published it for this long is shown disconnected: that replica is gone. */
    static final Duration STALE_AFTER = Duration.ofSeconds(30);
    /** A node no replica has published for this long is forgotten (checked at start and then hourly). */
    static final Duration FORGET_AFTER = Duration.ofDays(1);
    private static final long FORGET_CHECK_ROUNDS = Duration.ofHours(1).dividedBy(PUBLISH_EVERY);

    private final Orchestrator orchestrator;
    private final NodeGateway gateway;
    private final NodeStore store;
    private final StoreSignals signals;
    private final NodeViews views;
    private final JsonMapper json;
    private final InstantSource clock;
    private final String replica;
    // Only the publisher thread touches these two.
    private final Map<String, String> published = new HashMap<>();
    private final Map<String, Instant> publishedAt = new HashMap<>();
    // Signals arrive on the signals' thread, which must not block: applied here, in order.
    private final ExecutorService applier = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kiln-node-directory").daemon().factory());
    private volatile boolean closed;
    private Thread publisher;

    public NodeDirectory(Orchestrator orchestrator, NodeGateway gateway, NodeStore store, StoreSignals signals,
                         JsonMapper json, InstantSource clock, String replica) {
        this.orchestrator = orchestrator;
        this.gateway = gateway;
        this.store = store;
        this.signals = signals;
        this.json = json;
        this.clock = clock;
        this.replica = replica;
        this.views = new NodeViews(orchestrator, gateway, json, replica);
    }

    /** Applies the store's drains to this replica's nodes, follows the signals, and starts publishing. */
    public void start() {
        gateway.onJoining(this::joining);
        for (ComputeNode n : orchestrator.nodes()) joining(n);
        signals.subscribe((topic, id) -> {
            if (closed) return;
            if (topic == StoreSignals.Topic.NODES && id != null) applier.execute(() -> apply(id));
            else if (topic == StoreSignals.Topic.RESYNC) applier.execute(this::applyAll);
        });
        publisher = Thread.ofPlatform().name("kiln-node-publisher").daemon().start(this::publishLoop);
    }

    public String replica() {
        return replica;
    }

    // ---- the API ----------------------------------------------------------------------------------------------

    /** Every node of every replica, by id; this replica's own as they are now. */
    public List<ObjectNode> list() {
        Map<String, ObjectNode> out = new TreeMap<>();
        Instant now = clock.instant();
        for (NodeStore.NodeRow row : store.list()) {
            if (shown(row)) out.put(row.id(), foreign(row, now));
        }
        for (ComputeNode n : orchestrator.nodes()) {
            // A node this replica lost touch with may be connected to another one now: that one's view wins.
            NodeStore.NodeRow row = null;
            if (!heldHere(n) && out.containsKey(n.id())) row = store.find(n.id()).orElse(null);
            if (row == null || !heldElsewhere(row, now)) out.put(n.id(), views.render(n));
        }
        return List.copyOf(out.values());
    }

    /** @throws KilnException 404 when no replica knows the node */
    public ObjectNode get(String id) {
        Optional<ComputeNode> local = local(id);
        if (local.isPresent() && heldHere(local.get())) return views.render(local.get());
        Instant now = clock.instant();
        Optional<NodeStore.NodeRow> row = store.find(id).filter(NodeDirectory::shown);
        if (local.isPresent() && (row.isEmpty() || !heldElsewhere(row.get(), now))) return views.render(local.get());
        return foreign(row.orElseThrow(() -> KilnException.notFound("node " + id)), now);
    }

    /** Drains or resumes the node, wherever it is connected; the answer shows the new state. */
    public ObjectNode setDraining(String id, boolean draining) {
        get(id); // 404 first
        store.setDraining(id, draining, clock.instant());
        if (local(id).isPresent()) {
            if (draining) orchestrator.drainNode(id);
            else orchestrator.resumeNode(id);
        }
        signals.publish(StoreSignals.Topic.NODES, id);
        return get(id);
    }

    /**
     * Forgets a remote node: here at once when it is connected here (its work is re-queued), else the replica
     * holding it lets it go when it hears of it.
     *
     * @throws KilnException 404 for an unknown node, 409 for an in-process one
     */
    public void remove(String id) {
        Optional<ComputeNode> local = local(id);
        if (local.isPresent() && heldHere(local.get())) {
            gateway.remove(id); // 409 for an in-process node
            store.delete(id);
        } else {
            ObjectNode view = get(id);
            if ("in_process".equals(view.path("kind").asString(""))) {
                throw KilnException.conflict(null, "node " + id + " runs inside an orchestrator and cannot be "
                        + "removed; drain it instead");
            }
            // This replica's copy of a node it lost touch with goes now; the replica it is connected to (if any)
            // lets it go when it hears of the mark, and deletes the row.
            if (local.isPresent()) gateway.remove(id);
            store.markRemoved(id, clock.instant());
        }
        signals.publish(StoreSignals.Topic.NODES, id);
    }

    // ---- keeping in step --------------------------------------------------------------------------------------

    /** A node joins this replica (or reconnects): it is published, and a drain kept in the store applies at once. */
    void joining(ComputeNode node) {
        try {
            ObjectNode view = views.render(node);
            // Its connection is attached right after this: shown as ready (or drained, from the store's mark).
            if (view.path("status").asString("").equals("disconnected")) view.put("status", "ready");
            NodeStore.NodeRow row = store.joined(node.id(), replica, json.writeValueAsString(view), clock.instant());
            orchestrator.setDraining(node.id(), row.draining());
        } catch (RuntimeException e) {
            // The node joins all the same; its drain applies when the store answers again (a signal or a resync).
            log.warn("could not read node {}'s state from the store: {}", node.id(), e.getMessage());
        }
    }

    /** Another replica (or this one) changed the node in the store. */
    private void apply(String id) {
        Optional<ComputeNode> node = local(id);
        if (node.isEmpty()) return;
        // A copy of a node connected elsewhere now takes its drain along, but is not let go of here: its holder does.
        boolean held = heldHere(node.get());
        try {
            Optional<NodeStore.NodeRow> row = store.find(id);
            if (row.isEmpty()) return;
            if (row.get().removed() && held && !node.get().inProcess()) {
                log.info("node {} was removed through another replica; letting it go", id);
                gateway.remove(id);
                store.delete(id);
                return;
            }
            boolean draining = row.get().draining();
            if (draining != orchestrator.isDraining(id)) {
                log.info("node {} {} through another replica", id, draining ? "drained" : "resumed");
                orchestrator.setDraining(id, draining);
            }
        } catch (KilnException gone) {
            // removed meanwhile
        } catch (RuntimeException e) {
            log.warn("could not apply node {}'s state from the store: {}", id, e.getMessage());
        }
    }

    private void applyAll() {
        for (ComputeNode n : orchestrator.nodes()) apply(n.id());
    }

    private void publishLoop() {
        long rounds = 0;
        while (!closed) {
            try {
                if (rounds++ % FORGET_CHECK_ROUNDS == 0) {
                    int forgotten = store.deleteNotPublishedSince(clock.instant().minus(FORGET_AFTER));
                    if (forgotten > 0) log.info("forgot {} node(s) no replica has seen for {}", forgotten, FORGET_AFTER);
                }
                Thread.sleep(PUBLISH_EVERY.toMillis());
                publishChanged();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.debug("publishing nodes failed; next round", e);
            }
        }
    }

    /** Writes, in one batch, the views of this replica's nodes that changed or were not refreshed for a while. */
    void publishChanged() {
        Instant now = clock.instant();
        Map<String, String> changed = new HashMap<>();
        Map<String, String> keys = new HashMap<>();
        for (ComputeNode n : orchestrator.nodes()) {
            ObjectNode view = views.render(n);
            String full = json.writeValueAsString(view);
            view.remove(NodeViews.LAST_HEARD);
            String key = json.writeValueAsString(view);
            Instant at = publishedAt.get(n.id());
            if (!key.equals(published.get(n.id())) || at == null || !now.isBefore(at.plus(REFRESH_EVERY))) {
                changed.put(n.id(), full);
                keys.put(n.id(), key);
            }
        }
        if (changed.isEmpty()) return;
        store.publish(replica, changed, now);
        published.putAll(keys);
        keys.keySet().forEach(id -> publishedAt.put(id, now));
        published.keySet().retainAll(orchestrator.nodes().stream().map(ComputeNode::id).toList());
        publishedAt.keySet().retainAll(published.keySet());
    }

    /** In this process, or connected to it now. */
    private boolean heldHere(ComputeNode node) {
        return node.inProcess() || gateway.status(node.id()).map(st -> st.state().equals("connected")).orElse(false);
    }

    /** Published lately by another replica: the node is connected there. */
    private boolean heldElsewhere(NodeStore.NodeRow row, Instant now) {
        return row.replica() != null && !row.replica().equals(replica)
                && Duration.between(row.updatedAt(), now).compareTo(STALE_AFTER) <= 0;
    }

    private Optional<ComputeNode> local(String id) {
        return orchestrator.nodes().stream().filter(n -> n.id().equals(id)).findFirst();
    }

    private static boolean shown(NodeStore.NodeRow row) {
        return !row.removed() && row.view() != null;
    }

    /**
     * Another replica's node as it last published it, aged: its silence grows by the time since, a node not
     * published for {@link #STALE_AFTER} shows {@code disconnected} (its replica is gone), and the store's drain mark
     * shows at once, before that replica publishes again.
     */
    private ObjectNode foreign(NodeStore.NodeRow row, Instant now) {
        ObjectNode v = (ObjectNode) json.readTree(row.view());
        long age = Math.max(0, Duration.between(row.updatedAt(), now).toMillis());
        if (v.has(NodeViews.LAST_HEARD)) v.put(NodeViews.LAST_HEARD, v.path(NodeViews.LAST_HEARD).asLong() + age);
        String status = v.path("status").asString("");
        boolean live = status.equals("ready") || status.equals("draining") || status.equals("drained");
        if (age > STALE_AFTER.toMillis()) {
            if (!status.equals("lost")) v.put("status", "disconnected");
        } else if (live) {
            boolean running = v.path("running").asInt() > 0;
            v.put("status", !row.draining() ? "ready" : running ? "draining" : "drained");
        }
        return v;
    }

    @Override
    public void close() {
        closed = true;
        Thread t = publisher;
        if (t != null) t.interrupt();
        applier.shutdownNow();
    }
}
