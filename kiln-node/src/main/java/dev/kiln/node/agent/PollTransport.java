package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The {@code poll} transport, for networks that pass only plain HTTP: {@code POST /session} says hello, a sender
 * thread POSTs queued messages in batches, a receiver thread long-polls {@code GET /messages?wait=25} (or, with an
 * interval, polls with {@code wait=0} and sleeps). Both carry the session in {@code X-Kiln-Session}.
 */
final class PollTransport implements Transport {
    static final String SESSION_HEADER = "X-Kiln-Session";
    static final int LONG_POLL_SECONDS = 25;
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final HttpClient http;
    private final URI base; // .../node-api/v1
    private final long pollIntervalMillis;
    private final NodeMessageCodec codec;
    private final Listener listener;
    private final BlockingQueue<NodeMessage> outbox = new LinkedBlockingQueue<>();
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile String session;
    private volatile Thread sender;
    private volatile Thread receiver;

    /** @param pollIntervalMillis 0: long-poll; more: poll with {@code wait=0} and sleep that long in between */
    PollTransport(HttpClient http, URI base, long pollIntervalMillis, NodeMessageCodec codec, Listener listener) {
        this.http = http;
        this.base = base;
        this.pollIntervalMillis = pollIntervalMillis;
        this.codec = codec;
        this.listener = listener;
    }

    @Override
    public NodeMessage.Welcome connect(NodeMessage.Hello hello)
            throws IOException, InterruptedException, RefusedException {
        long helloSentAt = System.nanoTime();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/session"))
                .timeout(REQUEST_TIMEOUT).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(codec.encode(hello), StandardCharsets.UTF_8)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (r.statusCode() != 200) {
            NodeMessage.Refused refused = refusal(r);
            if (refused != null) throw new RefusedException(refused);
            throw new IOException("POST /session answered " + r.statusCode() + ": " + abbreviate(r.body()));
        }
        NodeMessage answer;
        try {
            answer = codec.decode(r.body());
        } catch (ProtocolException e) {
            throw new IOException("POST /session answered an undecodable message: " + e.getMessage());
        }
        if (answer instanceof NodeMessage.Refused refused) throw new RefusedException(refused);
        if (!(answer instanceof NodeMessage.Welcome welcome)) {
            throw new IOException("expected welcome, got " + answer.getClass().getSimpleName());
        }
        if (welcome.session() == null || welcome.session().isEmpty()) {
            throw new IOException("welcome without a session");
        }
        session = welcome.session();
        if (ended.get()) throw new IOException("connection closed");
        listener.confirmed(helloSentAt);
        sender = Thread.ofVirtual().name("kiln-node-poll-send").start(this::sendLoop);
        receiver = Thread.ofVirtual().name("kiln-node-poll-receive").start(this::receiveLoop);
        return welcome;
    }

    @Override
    public void send(NodeMessage message) {
        if (!ended.get()) outbox.add(message);
    }

    @Override
    public void close() {
        if (!ended.compareAndSet(false, true)) return;
        interrupt();
    }

    private void interrupt() {
        Thread s = sender;
        Thread r = receiver;
        if (s != null && s != Thread.currentThread()) s.interrupt();
        if (r != null && r != Thread.currentThread()) r.interrupt();
    }

    /** Whatever queued up while the previous POST was in flight goes in the next one. */
    private void sendLoop() {
        try {
            while (!ended.get()) {
                List<NodeMessage> batch = new ArrayList<>();
                batch.add(outbox.take());
                outbox.drainTo(batch);
                long sentAt = System.nanoTime();
                HttpResponse<String> r = http.send(request("/messages").timeout(REQUEST_TIMEOUT)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(codec.encodeAll(batch), StandardCharsets.UTF_8))
                        .build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                if (r.statusCode() != 204 && r.statusCode() != 200) {
                    failed("POST /messages", r);
                    return;
                }
                if (!ended.get()) listener.confirmed(sentAt); // the batch, with its heartbeat, arrived
            }
        } catch (InterruptedException e) {
            // closed
        } catch (IOException | RuntimeException e) {
            // Not retried here: reliable messages stay unacknowledged and their senders resend them.
            lose("POST /messages failed: " + e);
        }
    }

    private void receiveLoop() {
        int wait = pollIntervalMillis > 0 ? 0 : LONG_POLL_SECONDS;
        try {
            while (!ended.get()) {
                HttpResponse<String> r = http.send(request("/messages?wait=" + wait)
                        .timeout(REQUEST_TIMEOUT.plusSeconds(wait)).GET().build(),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                if (r.statusCode() != 200) {
                    failed("GET /messages", r);
                    return;
                }
                List<NodeMessage> messages;
                try {
                    messages = codec.decodeAll(r.body());
                } catch (ProtocolException e) {
                    lose("undecodable messages from the orchestrator: " + e.getMessage());
                    return;
                }
                for (NodeMessage m : messages) {
                    if (ended.get()) return;
                    listener.received(m);
                }
                if (pollIntervalMillis > 0) Thread.sleep(pollIntervalMillis);
            }
        } catch (InterruptedException e) {
            // closed
        } catch (IOException | RuntimeException e) {
            lose("GET /messages failed: " + e);
        }
    }

    private HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create(base + pathAndQuery)).header(SESSION_HEADER, session);
    }

    /** A refusal other than an expired session is passed on like a {@code refused} message; anything else is lost. */
    private void failed(String what, HttpResponse<String> r) {
        NodeMessage.Refused refused = refusal(r);
        if (refused != null && !refused.code().equals("session_expired")) {
            if (!ended.get()) listener.received(refused);
            return;
        }
        lose(what + " answered " + r.statusCode()
                + (refused != null ? " " + refused.code() : ": " + abbreviate(r.body())));
    }

    private void lose(String why) {
        if (!ended.compareAndSet(false, true)) return;
        interrupt();
        listener.lost(why);
    }

    /** A 4xx body {@code {"error": code, "message": ...}} as a refusal; null when the body is not one. */
    static NodeMessage.Refused refusal(HttpResponse<String> r) {
        if (r.statusCode() < 400 || r.statusCode() >= 500) return null;
        try {
            JsonNode n = JSON.readTree(r.body());
            JsonNode code = n.get("error");
            if (code == null || !code.isString()) return null;
            JsonNode message = n.get("message");
            return new NodeMessage.Refused(code.stringValue(),
                    message != null && message.isString() ? message.stringValue() : "HTTP " + r.statusCode());
        } catch (JacksonException e) {
            return null;
        }
    }

    private static String abbreviate(String body) {
        String s = body == null ? "" : body.strip();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
