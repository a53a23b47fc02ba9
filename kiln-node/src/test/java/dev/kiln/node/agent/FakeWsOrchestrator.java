package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code GET /node-api/v1/ws} as a minimal RFC 6455 server on a plain socket (no WebSocket library on this module's
 * classpath). It sends every message in two frames, so the node must join fragmented text messages.
 */
final class FakeWsOrchestrator extends FakeOrchestrator {
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private final ServerSocket server;
    private volatile Connection current;
    final AtomicInteger closeFrames = new AtomicInteger(); // close frames received from nodes

    FakeWsOrchestrator() throws IOException {
        this(0);
    }

    /** On {@code port} (0: any), e.g. the port of one that went away. */
    FakeWsOrchestrator(int port) throws IOException {
        server = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("fake-ws-accept").start(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread.ofVirtual().name("fake-ws-conn").start(() -> new Connection(s).run());
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    @Override
    URI url() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    @Override
    void send(NodeMessage message) {
        Connection c = current;
        if (c == null) throw new IllegalStateException("no node connected");
        c.sendText(codec.encode(message));
    }

    @Override
    void dropConnection() {
        Connection c = current;
        if (c != null) c.abort();
    }

    @Override
    public void close() throws IOException {
        server.close();
        dropConnection();
    }

    private final class Connection {
        private final Socket socket;
        private OutputStream out;

        Connection(Socket socket) {
            this.socket = socket;
        }

        void run() {
            try (socket) {
                DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
                out = socket.getOutputStream();
                if (!handshake(in)) return;
                ByteArrayOutputStream message = new ByteArrayOutputStream();
                while (true) {
                    int b0 = in.read();
                    if (b0 < 0) return;
                    int b1 = in.readUnsignedByte();
                    boolean fin = (b0 & 0x80) != 0;
                    int opcode = b0 & 0x0f;
                    long len = b1 & 0x7f;
                    if (len == 126) len = in.readUnsignedShort(); else if (len == 127) len = in.readLong();
                    byte[] mask = (b1 & 0x80) != 0 ? in.readNBytes(4) : null;
                    byte[] payload = in.readNBytes((int) len);
                    if (mask != null) for (int i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
                    switch (opcode) {
                        case 0x0, 0x1 -> {
                            message.write(payload);
                            if (fin) {
                                onText(message.toString(StandardCharsets.UTF_8));
                                message.reset();
                            }
                        }
                        case 0x8 -> {
                            closeFrames.incrementAndGet();
                            frame(0x8, true, payload);
                            return;
                        }
                        case 0x9 -> frame(0xA, true, payload);
                        default -> {
                            // pong: nothing to do
                        }
                    }
                }
            } catch (IOException e) {
                // the connection ended
            }
        }

        private boolean handshake(DataInputStream in) throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) return false;
                head.write(b);
            }
            String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
            String key = null;
            for (String line : lines) {
                if (line.toLowerCase(Locale.ROOT).startsWith("sec-websocket-key:")) key = line.substring(18).strip();
            }
            if (!lines[0].startsWith("GET /node-api/v1/ws ") || key == null) {
                out.write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                return false;
            }
            out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: " + accept(key) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return true;
        }

        private void onText(String text) {
            NodeMessage m = codec.decode(text);
            if (!(m instanceof NodeMessage.Hello hello)) {
                fromNode(m);
                return;
            }
            hellos.add(hello);
            NodeMessage answer = onHello.apply(hello);
            if (answer instanceof NodeMessage.Welcome) current = this;
            sendText(codec.encode(answer));
            if (answer instanceof NodeMessage.Refused) frame(0x8, true, new byte[]{0x03, (byte) 0xe8}); // 1000
        }

        /** In two frames: the node must put the parts together. */
        void sendText(String text) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            int half = bytes.length / 2;
            frame(0x1, false, Arrays.copyOfRange(bytes, 0, half));
            frame(0x0, true, Arrays.copyOfRange(bytes, half, bytes.length));
        }

        synchronized void frame(int opcode, boolean fin, byte[] payload) {
            try {
                out.write((fin ? 0x80 : 0) | opcode);
                if (payload.length < 126) {
                    out.write(payload.length);
                } else if (payload.length < 65536) {
                    out.write(126);
                    out.write(payload.length >>> 8);
                    out.write(payload.length & 0xff);
                } else {
                    out.write(127);
                    for (int shift = 56; shift >= 0; shift -= 8) {
                        out.write((int) ((long) payload.length >>> shift) & 0xff);
                    }
                }
                out.write(payload);
                out.flush();
            } catch (IOException e) {
                abort();
            }
        }

        void abort() {
            try {
                socket.close();
            } catch (IOException e) {
                // closed anyway
            }
        }
    }

    private static String accept(String key) {
        try {
            byte[] sha1 = MessageDigest.getInstance("SHA-1").digest((key + GUID).getBytes(StandardCharsets.ISO_8859_1));
            return Base64.getEncoder().encodeToString(sha1);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
