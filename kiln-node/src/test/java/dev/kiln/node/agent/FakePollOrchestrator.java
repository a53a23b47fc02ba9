package dev.kiln.node.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.node.protocol.NodeMessage;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The long-poll endpoints of docs/protocol.md on the JDK's own HTTP server. */
final class FakePollOrchestrator extends FakeOrchestrator {
    private final HttpServer server;
    // One per session: a long-poll of an expired session must not take the next session's messages.
    private volatile BlockingQueue<NodeMessage> outbox = new LinkedBlockingQueue<>();
    private volatile String session;

    FakePollOrchestrator() throws IOException {
        this(0);
    }

    /** On {@code port} (0: any), e.g. the port of one that went away. */
    FakePollOrchestrator(int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/node-api/v1/session", this::session);
        server.createContext("/node-api/v1/messages", this::messages);
        server.start();
    }

    @Override
    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    @Override
    void send(NodeMessage message) {
        outbox.add(message);
    }

    @Override
    void dropConnection() {
        session = null;
    }

    private void session(HttpExchange ex) throws IOException {
        NodeMessage.Hello hello = (NodeMessage.Hello) codec.decode(body(ex));
        hellos.add(hello);
        switch (onHello.apply(hello)) {
            case NodeMessage.Welcome w -> {
                outbox = new LinkedBlockingQueue<>();
                session = w.session();
                respond(ex, 200, codec.encode(w));
            }
            case NodeMessage.Refused r -> respond(ex, r.code().equals("unauthorized") ? 401 : 409,
                    "{\"error\":\"" + r.code() + "\",\"message\":\"" + r.message() + "\"}");
            default -> throw new IllegalStateException("onHello must answer welcome or refused");
        }
    }

    private void messages(HttpExchange ex) throws IOException {
        String s = ex.getRequestHeaders().getFirst("X-Kiln-Session");
        if (s == null || !s.equals(session)) {
            respond(ex, 409, "{\"error\":\"session_expired\",\"message\":\"say hello again\"}");
            return;
        }
        if (ex.getRequestMethod().equals("POST")) {
            codec.decodeAll(body(ex)).forEach(this::fromNode);
            ex.sendResponseHeaders(204, -1);
            ex.close();
            return;
        }
        BlockingQueue<NodeMessage> outbox = this.outbox;
        String query = ex.getRequestURI().getQuery();
        int wait = Integer.parseInt(query.substring(query.indexOf("wait=") + 5));
        List<NodeMessage> out = new ArrayList<>();
        try {
            NodeMessage first = outbox.poll(wait, TimeUnit.SECONDS);
            if (first != null) out.add(first);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        outbox.drainTo(out);
        respond(ex, 200, codec.encodeAll(out));
    }

    private static String body(HttpExchange ex) throws IOException {
        return new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    }

    private static void respond(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
