package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code ws} transport: one WebSocket ({@code GET /node-api/v1/ws}) carrying text frames both ways, with the
 * JDK's client. A heartbeat goes with a ping (its payload the send time, echoed by the pong) unless something sent
 * within the last half heartbeat interval was confirmed already (an ack, an earlier pong): the pongs keep the node's
 * own lease confirmed ({@link LeaseFence}) and show a connection that died silently (no FIN, e.g. a vanished NAT
 * entry) instead of TCP's retransmission timeout, while a busy node, whose results are acknowledged anyway, pings
 * not at all (every frame costs the orchestrator CPU, times the number of nodes).
 *
 * <p>Cheap enough to run by the thousand in one process ({@code kiln bench nodes}): it holds no thread of its own,
 * the {@link HttpClient} (its executor and selector) may be shared by all of them, and only {@link #connect} (until
 * the welcome) and {@link #close} (a second at most, for the close frame) block their caller.
 */
public final class WebSocketTransport implements Transport {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private final HttpClient http;
    private final URI uri;
    private final NodeMessageCodec codec;
    private final boolean pings;
    private final Listener listener;
    // The answer to hello; later messages go to the listener.
    private final CompletableFuture<NodeMessage> first = new CompletableFuture<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile CompletableFuture<WebSocket> opening;
    private volatile WebSocket webSocket;
    // The JDK allows one outstanding send per WebSocket: every send is chained on the previous one.
    private CompletableFuture<WebSocket> sends; // guarded by this
    private volatile long lastHeardNanos = System.nanoTime();
    private volatile long lastConfirmedNanos = System.nanoTime();
    private volatile boolean pongSeen;
    private volatile long silenceLimitNanos = Long.MAX_VALUE;
    private volatile long pingAfterNanos = Long.MAX_VALUE;

    /**
     * @param http     may be shared with other transports
     * @param uri      {@code ws://} or {@code wss://} .../node-api/v1/ws
     * @param pings    false: no pings with heartbeats, hence no noticing a silently dead link; only for measuring
     *                 what the pings cost ({@code kiln bench nodes --no-ping})
     * @param listener hears what the orchestrator sends after {@code welcome}
     */
    public WebSocketTransport(HttpClient http, URI uri, NodeMessageCodec codec, boolean pings, Listener listener) {
        this.http = http;
        this.uri = uri;
        this.codec = codec;
        this.pings = pings;
        this.listener = listener;
    }

    @Override
    public NodeMessage.Welcome connect(NodeMessage.Hello hello)
            throws IOException, InterruptedException, RefusedException {
        CompletableFuture<WebSocket> open = http.newWebSocketBuilder().connectTimeout(CONNECT_TIMEOUT)
                .buildAsync(uri, new Receiver());
        opening = open;
        open.thenAccept(ws -> {
            if (ended.get()) ws.abort(); // closed while it was opening
        });
        WebSocket ws = await(open, "cannot open " + uri);
        synchronized (this) {
            webSocket = ws;
            sends = CompletableFuture.completedFuture(ws);
        }
        long helloSentAt = System.nanoTime();
        send(hello);
        NodeMessage answer = await(first, "no answer to hello from " + uri);
        return switch (answer) {
            case NodeMessage.Welcome w -> {
                listener.confirmed(helloSentAt);
                // Pongs come back within a heartbeat or so; twice the lease of silence means the link is dead.
                long limit = 2L * Math.max(w.leaseMillis(), w.heartbeatMillis());
                silenceLimitNanos = TimeUnit.MILLISECONDS.toNanos(limit);
                pingAfterNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, w.heartbeatMillis())) / 2;
                yield w;
            }
            case NodeMessage.Refused r -> throw new RefusedException(r);
            default -> throw new IOException("expected welcome from " + uri + ", got "
                    + answer.getClass().getSimpleName());
        };
    }

    private <T> T await(CompletableFuture<T> future, String what) throws IOException, InterruptedException {
        try {
            return future.get(CONNECT_TIMEOUT.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new IOException(what + ": " + (cause.getMessage() == null ? cause.toString() : cause.getMessage()),
                    cause);
        } catch (TimeoutException e) {
            throw new IOException(what + ": timed out");
        } catch (java.util.concurrent.CancellationException e) {
            throw new IOException(what + ": connection closed");
        }
    }

    @Override
    public void send(NodeMessage message) {
        String text = codec.encode(message);
        synchronized (this) {
            if (sends == null || ended.get()) return;
            if (message instanceof NodeMessage.Heartbeat && tooQuiet()) {
                lose("no answer from the orchestrator for "
                        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastHeardNanos) + " ms");
                return;
            }
            sends = sends.thenCompose(ws -> ws.sendText(text, true));
            long now = System.nanoTime();
            if (pings && message instanceof NodeMessage.Heartbeat && now - lastConfirmedNanos >= pingAfterNanos) {
                ByteBuffer sentAt = ByteBuffer.allocate(Long.BYTES).putLong(0, now);
                sends = sends.thenCompose(ws -> ws.sendPing(sentAt));
            }
            sends.whenComplete((ws, e) -> {
                if (e != null) lose("sending failed: " + rootMessage(e));
            });
        }
    }

    @Override
    public void confirmed(long sentNanos) {
        if (sentNanos - lastConfirmedNanos > 0) lastConfirmedNanos = sentNanos;
    }

    /** Silence counts only once the orchestrator has answered a ping (a server that never pongs is not dead). */
    private boolean tooQuiet() {
        return pongSeen && System.nanoTime() - lastHeardNanos > silenceLimitNanos;
    }

    @Override
    public void close() {
        if (!ended.compareAndSet(false, true)) return;
        first.completeExceptionally(new IOException("connection closed"));
        CompletableFuture<WebSocket> open = opening;
        if (open != null) open.cancel(false);
        WebSocket ws;
        CompletableFuture<WebSocket> closing;
        synchronized (this) {
            ws = webSocket;
            if (ws == null) return;
            closing = sends.exceptionally(e -> ws).thenCompose(w -> w.sendClose(WebSocket.NORMAL_CLOSURE, ""));
        }
        try {
            closing.get(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // the connection is going anyway
        } finally {
            ws.abort();
        }
    }

    /** Ends the connection from our side after a failure; the listener hears of it once. */
    private void lose(String why) {
        if (!ended.compareAndSet(false, true)) return;
        first.completeExceptionally(new IOException(why));
        WebSocket ws = webSocket;
        if (ws != null) ws.abort();
        listener.lost(why);
    }

    private void deliver(String text) {
        NodeMessage message;
        try {
            message = codec.decode(text);
        } catch (ProtocolException e) {
            // Like the orchestrator, end a connection that breaks the protocol; the next hello reconciles.
            lose("undecodable message from the orchestrator: " + e.getMessage());
            return;
        }
        if (!first.isDone()) {
            first.complete(message);
        } else if (!ended.get()) {
            listener.received(message);
        }
    }

    private static String rootMessage(Throwable e) {
        while (e.getCause() != null && (e instanceof java.util.concurrent.CompletionException
                || e instanceof ExecutionException)) {
            e = e.getCause();
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /**
     * Receives frames. Every callback asks for the next frame with {@code request(1)}: without it the JDK client
     * delivers nothing more (not even the close), and closing hangs.
     */
    private final class Receiver implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder(); // a text message may arrive in several parts

        @Override
        public void onOpen(WebSocket ws) {
            ws.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            lastHeardNanos = System.nanoTime();
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                deliver(text);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            lose("the orchestrator sent a binary frame; the protocol has text frames only");
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
            lastHeardNanos = System.nanoTime(); // the JDK answers with a pong itself
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            long now = System.nanoTime();
            lastHeardNanos = now;
            pongSeen = true;
            // Our ping's send time, echoed: everything sent before that ping has arrived.
            if (message.remaining() == Long.BYTES) {
                long sentAt = message.getLong(message.position());
                if (now - sentAt >= 0) {
                    confirmed(sentAt);
                    listener.confirmed(sentAt);
                }
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            lose(statusCode == 1006 ? "connection closed without a close frame (1006)"
                    : "closed by the orchestrator (" + statusCode + (reason.isEmpty() ? "" : " " + reason) + ")");
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            lose("connection failed: " + rootMessage(error));
        }
    }
}
