package dev.kiln.server.nodes;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.server.config.NodeSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where remote nodes join: checks handshakes, reconciles what a (re)connecting node holds, routes the node's messages,
 * acknowledges its results once recorded, resends what a node has not acknowledged, and declares a node lost when it
 * is silent past its lease ({@link LeaseWatcher}). Transports ({@link WebSocketNodeEndpoint},
 * {@link LongPollNodeEndpoint}) only move messages; every decision is here.
 */
public final class NodeGateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeGateway.class);
    /** What a node id may be: in a node's hello, and in a node token bound to it. */
    public static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final int MAX_LABELS = 64;
    private static final int MAX_SLOTS = 10_000;

    /** What the gateway reports, for metrics. */
    public interface Events {
        Events NONE = new Events() {
        };

        default void connected(boolean reconnect) {
        }

        default void leaseExpired() {
        }

        default void resultDropped() {
        }

        /** The lease watcher found it had not run for more than half a lease and renewed every lease. */
        default void leaseWatcherPaused() {
        }
    }

    private final Orchestrator orchestrator;
    private final NodeSettings settings;
    private final ResultReceiver results;
    private final Events events;
    private final Map<String, RemoteComputeNode> nodes = new ConcurrentHashMap<>();
    private final AtomicLong seqs = new AtomicLong();
    private final LongSupplier nanoTime;
    private final LeaseWatcher leases;
    private final Thread leaseWatch;
    private volatile java.util.function.Consumer<RemoteComputeNode> joining = n -> {
    };
    private volatile Admission admission = this::sharedTokenRefusal;

    /** Who may join: null when node {@code nodeId} with {@code token} may, else why not (naming the field). */
    @FunctionalInterface
    public interface Admission {
        String refusal(String nodeId, String token, boolean loopback);
    }
    private volatile boolean closed;

    public NodeGateway(Orchestrator orchestrator, NodeSettings settings, Path spoolDir, OutputLimits limits,
                       Events events) {
        this(orchestrator, settings, spoolDir, limits, events, System::nanoTime);
    }

    /** @param nanoTime the monotonic clock of leases and resends */
    NodeGateway(Orchestrator orchestrator, NodeSettings settings, Path spoolDir, OutputLimits limits, Events events,
                LongSupplier nanoTime) {
        this.orchestrator = orchestrator;
        this.settings = settings;
        this.events = events;
        this.nanoTime = nanoTime;
        this.results = new ResultReceiver(spoolDir, limits);
        this.leases = new LeaseWatcher(settings.leaseMillis(), nanoTime, nodes::values, new LeaseWatcher.Listener() {
            @Override
            public void expired(RemoteComputeNode node) {
                expire(node);
            }

            @Override
            public void paused(long gapMillis) {
                events.leaseWatcherPaused();
            }
        });
        this.leaseWatch = Thread.ofPlatform().name("kiln-node-leases").daemon().start(this::watchLeases);
    }

    /**
     * A handshake on {@code channel}: validates it, reconciles, sends {@code welcome}, then makes the node
     * placeable. {@code loopback}: whether the node connected from this machine (needed when no join token is set).
     *
     * <p>The node holds what it says in {@code holding}, and also what it was sent and has not acknowledged (that
     * execute is sent again after the welcome). What it reports {@code interrupted} (it stopped them itself, cut off
     * past its lease) is re-queued at once, also when this orchestrator restarted meanwhile and waits for the node to
     * claim its executions: a first reconcile claims them, the second re-queues them, not as the job's failure.
     */
    public RemoteComputeNode hello(Hello h, NodeChannel channel, boolean loopback, String session) {
        check(h, loopback);
        boolean known = nodes.containsKey(h.nodeId());
        RemoteComputeNode node = nodes.computeIfAbsent(h.nodeId(), id -> new RemoteComputeNode(id, h, seqs::incrementAndGet,
                settings.resendMillis(), nanoTime));
        synchronized (node) {
            NodeChannel old = node.channel();
            if (old != null && node.detach(old)) {
                old.close(new NodeMessage.Refused("replaced", "a newer connection of node " + h.nodeId()
                        + " took over"));
            }
            node.hello(h);
            node.heard();
            Set<String> holding = new HashSet<>(h.holding());
            holding.addAll(node.unacknowledgedExecutes());
            h.interrupted().forEach(holding::remove);
            joining.accept(node); // a drain kept in the store applies before the node can get work
            if (orchestrator.nodes().stream().noneMatch(n -> n == node)) orchestrator.addNode(node);
            if (!h.interrupted().isEmpty()) {
                log.warn("node {} stopped {} execution(s) itself, cut off from the orchestrator past its lease; "
                        + "re-queued: {}", h.nodeId(), h.interrupted().size(), h.interrupted());
                Set<String> claimed = new HashSet<>(holding);
                claimed.addAll(h.interrupted());
                orchestrator.reconcile(node, claimed);
            }
            List<String> cancel = orchestrator.reconcile(node, holding);
            node.retainAssigned(holding);
            channel.welcome(new NodeMessage.Welcome(node.id(), session, settings.heartbeatMillis(),
                    settings.leaseMillis(), cancel, settings.resendMillis()));
            node.attach(channel);
        }
        events.connected(known);
        log.info("node {} {} over {} ({} slot(s), executors {}, holding {})", h.nodeId(),
                known ? "reconnected" : "joined", channel.transport(), h.slots(), h.executors(), h.holding().size());
        return node;
    }

    private void check(Hello h, boolean loopback) {
        if (closed) throw new NodeRefusedException("shutting_down", "the orchestrator is shutting down");
        if (h.protocol() != NodeMessage.PROTOCOL_VERSION) {
            throw new NodeRefusedException("protocol_version", "protocol: this orchestrator speaks version "
                    + NodeMessage.PROTOCOL_VERSION + ", the node " + h.protocol() + " (upgrade the node and the "
                    + "orchestrator together)");
        }
        if (!NODE_ID.matcher(h.nodeId()).matches()) {
            throw new NodeRefusedException("bad_message", "node_id: must match " + NODE_ID.pattern());
        }
        String refusal = admission.refusal(h.nodeId(), h.token(), loopback);
        if (refusal != null) throw new NodeRefusedException("unauthorized", refusal);
        if (h.slots() < 1 || h.slots() > MAX_SLOTS) {
            throw new NodeRefusedException("bad_message", "slots: must be 1 to " + MAX_SLOTS + ", got " + h.slots());
        }
        if (h.executors().isEmpty() || !h.executors().contains(h.defaultExecutor())) {
            throw new NodeRefusedException("bad_message", "default_executor: '" + h.defaultExecutor()
                    + "' is not among executors " + h.executors());
        }
        if (h.labels().size() > MAX_LABELS) {
            throw new NodeRefusedException("bad_message", "labels: at most " + MAX_LABELS);
        }
        if (h.holding().size() > 10 * MAX_SLOTS) throw new NodeRefusedException("bad_message", "holding: too long");
        if (h.interrupted().size() > 10 * MAX_SLOTS) {
            throw new NodeRefusedException("bad_message", "interrupted: too long");
        }
        for (var e : h.typeSlots().entrySet()) {
            if (e.getValue() < 1 || e.getValue() > h.slots()) {
                throw new NodeRefusedException("bad_message", "type_slots." + e.getKey() + ": must be 1 to slots ("
                        + h.slots() + "), got " + e.getValue());
            }
        }
        ComputeNode existing = orchestrator.nodes().stream().filter(n -> n.id().equals(h.nodeId())).findFirst()
                .orElse(null);
        if (existing != null && existing.inProcess()) {
            throw new NodeRefusedException("bad_message", "node_id: '" + h.nodeId() + "' is the orchestrator's own node");
        }
    }

    /** Replaces the default admission (the shared node_join_token, else loopback only), e.g. with node tokens. */
    public void admission(Admission admission) {
        this.admission = admission;
    }

    private String sharedTokenRefusal(String nodeId, String presented, boolean loopback) {
        String token = settings.joinToken();
        if (token == null) {
            return loopback ? null : "token: no node_join_token is configured, so only nodes on the orchestrator's "
                    + "machine may join";
        }
        if (presented == null || !MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8),
                presented.getBytes(StandardCharsets.UTF_8))) {
            return "token: wrong or missing join token";
        }
        return null;
    }

    /**
     * Called at every handshake, before the node can be given work ({@link NodeDirectory#joining}); must not
     * throw.
     */
    public void onJoining(java.util.function.Consumer<RemoteComputeNode> listener) {
        this.joining = listener;
    }

    /** A message from a node after its handshake. Results are recorded on a thread of their own. */
    public void received(RemoteComputeNode node, NodeChannel channel, NodeMessage message) {
        if (node.channel() != channel) return; // a replaced connection's late message
        node.heard();
        switch (message) {
            case NodeMessage.Heartbeat h -> {
                // renews the lease (above); credits are counted here, not taken from the node's own count
            }
            case NodeMessage.Ack a -> node.acked(a.seq());
            case NodeMessage.Started s -> {
                RemoteComputeNode.Assigned a = node.started(s.executionId());
                if (a != null) a.listener().started(a.request());
            }
            case NodeMessage.Result r -> Thread.ofVirtual().name("result-" + r.executionId())
                    .start(() -> deliver(node, r));
            case NodeMessage.Output o -> {
                RemoteComputeNode.Assigned a = node.assigned(o.executionId());
                if (a != null) a.listener().output(a.request(), o.stream(), o.data());
            }
            default -> throw new NodeRefusedException("bad_message", "type: a node may not send '"
                    + message.getClass().getSimpleName().toLowerCase() + "' here");
        }
    }

    /**
     * Records a result once: a copy arriving while the first is being recorded waits for that one's ack (the node
     * resends the same {@code seq}); one arriving later finds no assignment and is dropped, and acknowledged.
     */
    private void deliver(RemoteComputeNode node, NodeMessage.Result r) {
        RemoteComputeNode.Assigned a;
        synchronized (node) {
            a = node.release(r.executionId());
            if (a == null && node.recording(r.executionId())) return;
        }
        if (a == null) {
            events.resultDropped();
            log.info("dropping result of execution {} from node {}: it is no longer the node's", r.executionId(),
                    node.id());
        } else {
            try {
                results.deliver(a, r.result(), node.id());
                node.recorded(a, false);
            } catch (RuntimeException e) {
                log.error("could not record the result of execution {} from node {}", r.executionId(), node.id(), e);
                node.recorded(a, true);
                return; // not acknowledged: the node sends it again
            }
        }
        NodeChannel c = node.channel();
        if (c != null) c.send(new NodeMessage.Ack(r.seq()));
    }

    /** The connection ended without a goodbye: the node has its lease to come back before its work moves. */
    public void disconnected(RemoteComputeNode node, NodeChannel channel) {
        if (node.detach(channel)) log.info("node {} disconnected; lease {} ms", node.id(), settings.leaseMillis());
    }

    /** The operator forgets a node: it is told not to come back, and its work is re-queued. */
    public void remove(String nodeId) {
        orchestrator.removeNode(nodeId); // 404 or 409 (in-process) first
        RemoteComputeNode node = nodes.remove(nodeId);
        if (node == null) return;
        NodeChannel c = node.channel();
        if (c != null && node.detach(c)) c.close(new NodeMessage.Refused("removed", "node " + nodeId
                + " was removed by the operator"));
        node.markLost();
    }

    public Optional<RemoteComputeNode> find(String nodeId) {
        return Optional.ofNullable(nodes.get(nodeId));
    }

    /** The connection state of a remote node (empty for unknown or in-process nodes). */
    public Optional<NodeStatus> status(String nodeId) {
        RemoteComputeNode n = nodes.get(nodeId);
        if (n == null) return Optional.empty();
        NodeChannel c = n.channel();
        String state = c != null ? "connected" : n.lost() ? "lost" : "disconnected";
        return Optional.of(new NodeStatus(state, c == null ? null : c.transport(), n.connectedSince(),
                n.silentNanos() / 1_000_000, n.connections(), n.lastHello().jobTypes(), n.lastHello().typeSlots()));
    }

    public int connectedCount() {
        int n = 0;
        for (RemoteComputeNode node : nodes.values()) if (node.connected()) n++;
        return n;
    }

    /** Checks the leases and resends what nodes have not acknowledged in time, every lease tick. */
    private void watchLeases() {
        while (!closed) {
            try {
                Thread.sleep(leases.tickMillis());
                leases.check();
                for (RemoteComputeNode node : nodes.values()) node.resendOverdue();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.error("lease check failed", e);
            }
        }
    }

    private void expire(RemoteComputeNode node) {
        synchronized (node) {
            if (node.lost() || node.silentNanos() <= settings.leaseMillis() * 1_000_000L) return;
            NodeChannel c = node.channel();
            if (c != null && node.detach(c)) c.close(null);
            node.markLost();
        }
        events.leaseExpired();
        String reason = "node " + node.id() + " was lost (silent for more than " + settings.leaseMillis() + " ms)";
        log.warn(reason);
        orchestrator.nodeLost(node.id(), reason);
    }

    @Override
    public void close() {
        closed = true;
        leaseWatch.interrupt();
        for (RemoteComputeNode node : nodes.values()) {
            NodeChannel c = node.channel();
            if (c != null && node.detach(c)) c.close(null);
        }
    }
}
