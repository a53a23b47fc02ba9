package dev.kiln.cli.bench.sim;

import dev.kiln.core.JobStatus;
import dev.kiln.node.agent.RefusedException;
import dev.kiln.node.agent.Transport;
import dev.kiln.node.agent.WebSocketTransport;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.WireResult;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A noop compute node that costs almost nothing: the node agent's own {@link WebSocketTransport} (on an
 * {@link HttpClient} all simulated nodes share) speaking the real node protocol. It says {@code hello}, heartbeats
 * every {@code heartbeat_ms} from {@code welcome} (pinging as the agent does), and answers every {@code execute}
 * with {@code started}, a succeeded {@code result} and the execute's {@code ack} at once (a resent execute is
 * acknowledged and not run again). No resends and no reconnects: a lost simulated node stays lost (the bench
 * reports it).
 */
public final class SimulatedNode {
    /** What the bench wants to hear about; called on the WebSocket's threads, keep it cheap. */
    public interface Observer {
        /** An {@code execute} for {@code jobId} arrived at {@code nanos} ({@link System#nanoTime()}). */
        default void executeReceived(String jobId, long nanos) {
        }

        /** The result of {@code jobId} was handed to the WebSocket. */
        default void resultSent(String jobId) {
        }

        /** The connection ended (refused, closed by the orchestrator, failed). */
        default void lost(SimulatedNode node, String why) {
        }
    }

    private static final WireResult SUCCEEDED = new WireResult(JobStatus.SUCCEEDED, 0, "", "", false, false, null,
            null, 0, 0, List.of(), null);

    private final String nodeId;
    private final int slots;
    private final Map<String, String> labels;
    private final boolean ping;
    private final NodeMessageCodec codec;
    private final ScheduledExecutorService timers;
    private final Observer observer;
    private final CompletableFuture<NodeMessage.Welcome> welcomed = new CompletableFuture<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicLong seqs = new java.util.concurrent.atomic.AtomicLong();
    private final Set<String> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile Transport transport;
    private ScheduledFuture<?> heartbeat; // guarded by this

    private volatile long heartbeatMillis = -1;

    /**
     * @param ping ping with heartbeats as the real agent does when the orchestrator has been quiet (it notices a dead
     *             link by the missing pongs); false only to measure what the pings cost
     */
    public SimulatedNode(String nodeId, int slots, Map<String, String> labels, boolean ping, NodeMessageCodec codec,
                         ScheduledExecutorService timers, Observer observer) {
        this.nodeId = nodeId;
        this.slots = slots;
        this.labels = Map.copyOf(labels);
        this.ping = ping;
        this.codec = codec;
        this.timers = timers;
        this.observer = observer;
    }

    public String nodeId() {
        return nodeId;
    }

    /**
     * Opens the WebSocket and says hello; completes with the welcome (exceptionally when refused or failed, after the
     * transport's own connect timeouts).
     */
    public CompletableFuture<NodeMessage.Welcome> connect(HttpClient http, URI wsUri) {
        Transport t = new WebSocketTransport(http, wsUri, codec, ping, new Listener());
        transport = t;
        // The transport's connect blocks until the welcome; a virtual thread per connect in flight costs little.
        Thread.ofVirtual().name("sim-connect-" + nodeId).start(() -> handshake(t));
        return welcomed;
    }

    private void handshake(Transport t) {
        NodeMessage.Welcome w;
        try {
            w = t.connect(new NodeMessage.Hello(NodeMessage.PROTOCOL_VERSION, nodeId, null, labels, slots,
                    Set.of("noop"), "noop", null, List.of()));
        } catch (RefusedException e) {
            end("refused (" + e.refused().code() + "): " + e.refused().message());
            return;
        } catch (IOException e) {
            end(e.getMessage());
            return;
        } catch (InterruptedException e) {
            end("interrupted while connecting");
            return;
        }
        long every = w.heartbeatMillis() > 0 ? w.heartbeatMillis() : 1_000;
        heartbeatMillis = every;
        synchronized (this) {
            if (!ended.get()) {
                heartbeat = timers.scheduleAtFixedRate(() -> t.send(new NodeMessage.Heartbeat(slots, 0)),
                        every, every, TimeUnit.MILLISECONDS);
            }
        }
        welcomed.complete(w);
    }

    /** The heartbeat interval the orchestrator asked for; -1 before the welcome. */
    public long heartbeatMillis() {
        return heartbeatMillis;
    }

    public boolean connected() {
        return welcomed.isDone() && !welcomed.isCompletedExceptionally() && !ended.get();
    }

    /** Ends the connection once; the observer hears why. */
    private void end(String why) {
        if (!ended.compareAndSet(false, true)) return;
        welcomed.completeExceptionally(new IOException("node " + nodeId + ": " + why));
        stop();
        observer.lost(this, why);
    }

    /** Closes the WebSocket (a close frame, then abort after at most a second); the observer is not told. */
    public void close() {
        if (!ended.compareAndSet(false, true)) return;
        welcomed.completeExceptionally(new IOException("closed"));
        stop();
    }

    private void stop() {
        synchronized (this) {
            if (heartbeat != null) heartbeat.cancel(false);
        }
        Transport t = transport;
        // Closing waits for the close frame to go out: not on the WebSocket's threads, nor one node after another.
        if (t != null) Thread.ofVirtual().name("sim-close-" + nodeId).start(t::close);
    }

    /** What the orchestrator sends after the welcome. */
    private final class Listener implements Transport.Listener {
        @Override
        public void received(NodeMessage message) {
            switch (message) {
                case NodeMessage.Execute e -> {
                    String id = e.request().executionId();
                    if (seen.add(id)) {
                        observer.executeReceived(e.request().jobId(), System.nanoTime());
                        transport.send(new NodeMessage.Started(id));
                        transport.send(new NodeMessage.Result(seqs.incrementAndGet(), id, SUCCEEDED));
                        observer.resultSent(e.request().jobId());
                    }
                    transport.send(new NodeMessage.Ack(e.seq()));
                }
                case NodeMessage.Cancel c -> transport.send(new NodeMessage.Ack(c.seq()));
                case NodeMessage.Refused r -> end("refused (" + r.code() + "): " + r.message());
                default -> {
                    // ack: a noop node keeps no result to forget
                }
            }
        }

        @Override
        public void lost(String why) {
            end(why);
        }
    }
}
