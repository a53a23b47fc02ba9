package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import io.javalin.config.JavalinConfig;
import io.javalin.websocket.WsContext;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.websocket.api.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The node protocol over one WebSocket per node ({@code GET /node-api/v1/ws}), JSON text frames. */
public final class WebSocketNodeEndpoint {
    private static final Logger log = LoggerFactory.getLogger(WebSocketNodeEndpoint.class);
    public static final String PATH = "/node-api/v1/ws";

    private final NodeGateway gateway;
    private final NodeMessageCodec codec = new NodeMessageCodec();
    private final long maxMessageBytes;
    private final Map<String, Connection> connections = new ConcurrentHashMap<>();

    public WebSocketNodeEndpoint(NodeGateway gateway, long maxMessageBytes) {
        this.gateway = gateway;
        this.maxMessageBytes = maxMessageBytes;
    }

    /** One WebSocket: the node it belongs to once its hello was accepted. */
    private final class Connection implements NodeChannel {
        final WsContext ws;
        volatile RemoteComputeNode node;

        Connection(WsContext ws) {
            this.ws = ws;
        }

        @Override
        public void welcome(NodeMessage.Welcome welcome) {
            send(welcome);
        }

        @Override
        public void send(NodeMessage message) {
            try {
                ws.session.sendText(codec.encode(message), Callback.NOOP); // queued by Jetty; never blocks
            } catch (RuntimeException e) {
                log.debug("send to node failed: {}", e.toString());
            }
        }

        @Override
        public void close(NodeMessage.Refused reason) {
            if (reason != null) send(reason);
            try {
                ws.closeSession(reason == null ? 1001 : 1008, reason == null ? "going away" : reason.code());
            } catch (RuntimeException e) {
                log.debug("close failed: {}", e.toString());
            }
        }

        @Override
        public String transport() {
            return "ws";
        }
    }

    public void register(JavalinConfig config) {
        config.jetty.modifyWebSocketServletFactory(f -> {
            f.setMaxTextMessageSize(maxMessageBytes);
            f.setIdleTimeout(Duration.ofSeconds(60)); // heartbeats keep a live connection busier than this
        });
        config.routes.ws(PATH, ws -> {
            ws.onConnect(ctx -> connections.put(ctx.sessionId(), new Connection(ctx)));
            ws.onMessage(ctx -> onText(connections.get(ctx.sessionId()), ctx.message()));
            ws.onClose(ctx -> closed(connections.remove(ctx.sessionId())));
            ws.onError(ctx -> closed(connections.remove(ctx.sessionId())));
        });
    }

    private void onText(Connection c, String text) {
        if (c == null) return;
        try {
            NodeMessage m = codec.decode(text);
            RemoteComputeNode node = c.node;
            if (node == null) {
                if (!(m instanceof NodeMessage.Hello h)) {
                    throw new NodeRefusedException("bad_message", "type: the first message must be hello");
                }
                c.node = gateway.hello(h, c, isLoopback(c.ws.session.getRemoteSocketAddress()), null);
            } else {
                gateway.received(node, c, m);
            }
        } catch (ProtocolException e) {
            c.close(new NodeMessage.Refused("bad_message", e.getMessage()));
        } catch (NodeRefusedException e) {
            log.warn("refused node connection from {}: {}", c.ws.session.getRemoteSocketAddress(), e.getMessage());
            c.close(e.refused());
        }
    }

    private void closed(Connection c) {
        if (c != null && c.node != null) gateway.disconnected(c.node, c);
    }

    static boolean isLoopback(SocketAddress address) {
        return address instanceof InetSocketAddress a && a.getAddress() != null && a.getAddress().isLoopbackAddress();
    }
}
