package dev.kiln.cli.bench.sim;

import dev.kiln.core.JobStatus;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import dev.kiln.node.protocol.WireResult;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A noop compute node that costs almost nothing: one JDK WebSocket (the {@link HttpClient} is shared by all of
 * them) speaking the real node protocol with {@link NodeMessageCodec}. It says {@code hello}, heartbeats every
 * {@code heartbeat_ms} from {@code welcome}, and answers every {@code execute} with {@code started} and a succeeded
 * {@code result} at once. No reconnects: a lost simulated node stays lost (the bench reports it).
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
    private long heartbeats; // guarded by this
    private final NodeMessageCodec codec;
    private final ScheduledExecutorService timers;
    private final Observer observer;
    private final CompletableFuture<NodeMessage.Welcome> welcomed = new CompletableFuture<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile WebSocket webSocket;
    // The JDK allows one outstanding send per WebSocket: each send is chained on the previous one.
    private CompletableFuture<WebSocket> sends; // guarded by this
    private ScheduledFuture<?> heartbeat; // guarded by this

    private volatile long heartbeatMillis = -1;

    /**
     * @param ping send WebSocket pings with heartbeats as the real agent does on an idle connection (it notices a
     *             dead link by the missing pongs)
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

    /** Opens the WebSocket and says hello; completes with the welcome (exceptionally when refused or failed). */
    public CompletableFuture<NodeMessage.Welcome> connect(HttpClient http, URI wsUri, Duration timeout) {
        http.newWebSocketBuilder().connectTimeout(timeout).buildAsync(wsUri, new Receiver()).whenComplete((ws, e) -> {
            if (e != null) {
                fail("cannot open " + wsUri + ": " + rootMessage(e));
                return;
            }
            synchronized (this) {
                webSocket = ws;
                sends = CompletableFuture.completedFuture(ws);
            }
            if (ended.get()) {
                ws.abort();
                return;
            }
            send(new NodeMessage.Hello(NodeMessage.PROTOCOL_VERSION, nodeId, null, labels, slots, Set.of("noop"),
                    "noop", null, List.of()));
        });
        return welcomed.orTimeout(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
    }

    /** The heartbeat interval the orchestrator asked for; -1 before the welcome. */
    public long heartbeatMillis() {
        return heartbeatMillis;
    }

    public boolean connected() {
        return welcomed.isDone() && !welcomed.isCompletedExceptionally() && !ended.get();
    }

    private void send(NodeMessage message) {
        String text = codec.encode(message);
        synchronized (this) {
            if (sends == null || ended.get()) return;
            sends = sends.thenCompose(ws -> ws.sendText(text, true));
            // Like the agent on an idle connection: a ping with every third heartbeat (it pings after 2 s of quiet).
            if (ping && message instanceof NodeMessage.Heartbeat && heartbeats++ % 3 == 0) {
                sends = sends.thenCompose(ws -> ws.sendPing(ByteBuffer.allocate(0)));
            }
            sends.whenComplete((ws, e) -> {
                if (e != null) fail("sending failed: " + rootMessage(e));
            });
        }
    }

    private void received(String text) {
        NodeMessage m;
        try {
            m = codec.decode(text);
        } catch (ProtocolException e) {
            fail("undecodable message from the orchestrator: " + e.getMessage());
            return;
        }
        switch (m) {
            case NodeMessage.Welcome w -> {
                long every = w.heartbeatMillis() > 0 ? w.heartbeatMillis() : 1_000;
                heartbeatMillis = every;
                synchronized (this) {
                    if (!ended.get()) {
                        heartbeat = timers.scheduleAtFixedRate(() -> send(new NodeMessage.Heartbeat(slots, 0)),
                                every, every, TimeUnit.MILLISECONDS);
                    }
                }
                welcomed.complete(w);
            }
            case NodeMessage.Execute e -> {
                observer.executeReceived(e.request().jobId(), System.nanoTime());
                String id = e.request().executionId();
                send(new NodeMessage.Started(id));
                send(new NodeMessage.Result(id, SUCCEEDED));
                observer.resultSent(e.request().jobId());
            }
            case NodeMessage.Refused r -> fail("refused (" + r.code() + "): " + r.message());
            default -> {
                // ack, cancel: a noop node has nothing to forget or kill
            }
        }
    }

    /** Ends the connection once; the observer hears why. */
    private void fail(String why) {
        if (!ended.compareAndSet(false, true)) return;
        welcomed.completeExceptionally(new IOException("node " + nodeId + ": " + why));
        synchronized (this) {
            if (heartbeat != null) heartbeat.cancel(false);
        }
        WebSocket ws = webSocket;
        if (ws != null) ws.abort();
        observer.lost(this, why);
    }

    /** Closes the WebSocket (a close frame, then abort after at most a second); the observer is not told. */
    public void close() {
        if (!ended.compareAndSet(false, true)) return;
        welcomed.completeExceptionally(new IOException("closed"));
        CompletableFuture<WebSocket> closing;
        synchronized (this) {
            if (heartbeat != null) heartbeat.cancel(false);
            WebSocket ws = webSocket;
            if (ws == null) return;
            closing = sends.exceptionally(e -> ws).thenCompose(w -> w.sendClose(WebSocket.NORMAL_CLOSURE, ""));
        }
        closing.orTimeout(1, TimeUnit.SECONDS).whenComplete((w, e) -> webSocket.abort());
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null && (e instanceof java.util.concurrent.CompletionException
                || e instanceof java.util.concurrent.ExecutionException)) {
            e = e.getCause();
        }
        return e.getMessage() == null ? e.toString() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    /** Asks for the next frame after every callback: without {@code request(1)} the JDK delivers nothing more. */
    private final class Receiver implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder(); // a text message may come in several frames

        @Override
        public void onOpen(WebSocket ws) {
            ws.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                received(text);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            fail("the orchestrator sent a binary frame");
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
            ws.request(1); // the JDK answers with a pong itself
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            fail("closed by the orchestrator (" + statusCode + (reason.isEmpty() ? "" : " " + reason) + ")");
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            fail("connection failed: " + rootMessage(error));
        }
    }
}
