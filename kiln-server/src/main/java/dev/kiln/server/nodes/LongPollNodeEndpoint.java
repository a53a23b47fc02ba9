package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The node protocol over plain HTTP for networks that break WebSockets: {@code POST /node-api/v1/session} (hello →
 * welcome), {@code POST /node-api/v1/messages} (node → orchestrator) and a long-polling
 * {@code GET /node-api/v1/messages?wait=S} (orchestrator → node). The session secret travels in
 * {@code X-Kiln-Session}.
 */
public final class LongPollNodeEndpoint {
    private static final Logger log = LoggerFactory.getLogger(LongPollNodeEndpoint.class);
    static final String SESSION_HEADER = "X-Kiln-Session";
    private static final int MAX_WAIT_SECONDS = 25;
    private static final int MAX_HELLO_BYTES = 1 << 20;

    private final NodeGateway gateway;
    private final NodeMessageCodec codec = new NodeMessageCodec();
    private final JsonMapper json = JsonMapper.builder().build();
    private final long maxMessageBytes;
    private final Map<String, PollChannel> sessions = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    public LongPollNodeEndpoint(NodeGateway gateway, long maxMessageBytes) {
        this.gateway = gateway;
        this.maxMessageBytes = maxMessageBytes;
    }

    public void register(JavalinConfig config) {
        config.routes.post("/node-api/v1/session", this::openSession);
        config.routes.post("/node-api/v1/messages", this::receive);
        config.routes.get("/node-api/v1/messages", this::poll);
    }

    private void openSession(Context ctx) throws IOException {
        NodeMessage m;
        try {
            m = codec.decode(new String(body(ctx, MAX_HELLO_BYTES), StandardCharsets.UTF_8));
        } catch (ProtocolException e) {
            error(ctx, 400, "bad_message", e.getMessage());
            return;
        }
        if (!(m instanceof NodeMessage.Hello h)) {
            error(ctx, 400, "bad_message", "type: the session starts with hello");
            return;
        }
        String session = HexFormat.of().formatHex(bytes(16));
        sessions.values().removeIf(PollChannel::isClosed); // sessions of nodes that never came back for them
        PollChannel channel = new PollChannel(session);
        try {
            sessions.put(session, channel);
            channel.node = gateway.hello(h, channel, InetAddress.ofLiteral(ctx.req().getRemoteAddr())
                    .isLoopbackAddress(), session);
        } catch (NodeRefusedException e) {
            sessions.remove(session);
            log.warn("refused node session from {}: {}", ctx.req().getRemoteAddr(), e.getMessage());
            error(ctx, e.refused().code().equals("unauthorized") ? 401 : 400, e.refused().code(), e.getMessage());
            return;
        }
        ctx.contentType("application/json").result(codec.encode(channel.welcome()));
    }

    private void receive(Context ctx) throws IOException {
        PollChannel channel = session(ctx);
        if (channel == null) return;
        if (channel.isClosed()) {
            expired(ctx, channel.session());
            return;
        }
        List<NodeMessage> messages;
        try {
            messages = codec.decodeAll(new String(body(ctx, maxMessageBytes), StandardCharsets.UTF_8));
            for (NodeMessage m : messages) gateway.received(channel.node, channel, m);
        } catch (ProtocolException | NodeRefusedException e) {
            error(ctx, 400, "bad_message", e.getMessage());
            return;
        }
        ctx.status(204);
    }

    private void poll(Context ctx) throws InterruptedException {
        PollChannel channel = session(ctx);
        if (channel == null) return;
        int wait;
        try {
            wait = Integer.parseInt(ctx.queryParamAsClass("wait", String.class).getOrDefault("25"));
        } catch (NumberFormatException e) {
            error(ctx, 400, "bad_request", "wait: must be a whole number of seconds");
            return;
        }
        if (wait < 0 || wait > MAX_WAIT_SECONDS) {
            error(ctx, 400, "bad_request", "wait: must be 0 to " + MAX_WAIT_SECONDS + " seconds, got " + wait);
            return;
        }
        List<NodeMessage> out = channel.take(wait * 1000L);
        if (out == null) {
            expired(ctx, channel.session());
            return;
        }
        ctx.contentType("application/json").result(codec.encodeAll(out));
    }

    /** The request's session, or null after answering 409 (unknown or ended: the node says hello again). */
    private PollChannel session(Context ctx) {
        String id = ctx.header(SESSION_HEADER);
        PollChannel channel = id == null ? null : sessions.get(id);
        if (channel == null || channel.node == null) {
            expired(ctx, id);
            return null;
        }
        return channel;
    }

    private void expired(Context ctx, String id) {
        if (id != null) sessions.remove(id);
        error(ctx, 409, "session_expired", "the session is unknown or has ended; send hello again");
    }

    private byte[] body(Context ctx, long max) throws IOException {
        try (InputStream in = ctx.bodyInputStream()) {
            byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
            if (b.length > max) throw new ProtocolException("body: exceeds the limit of " + max + " bytes");
            return b;
        }
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private void error(Context ctx, int status, String code, String message) {
        ObjectNode o = json.createObjectNode();
        o.put("error", code);
        o.put("message", message);
        ctx.status(status).contentType("application/json").result(json.writeValueAsString(o));
    }
}
