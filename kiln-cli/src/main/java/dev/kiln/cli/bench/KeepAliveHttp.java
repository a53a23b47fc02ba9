package dev.kiln.cli.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A load generator's HTTP/1.1 client: one keep-alive connection per calling thread, a request prepared once, and
 * just enough response parsing (status, Content-Length or chunked) to check the answer. The JDK's HttpClient costs
 * several times more CPU per request; on a 2-core machine the client shares the cores with the server it measures,
 * so a cheap client (like wrk) measures Kiln rather than the client.
 */
final class KeepAliveHttp implements AutoCloseable {
    /** Longer than any answer a bench waits for (a long-poll asks for 30 s at most). */
    static final int READ_TIMEOUT_MILLIS = 90_000;

    private final String host;
    private final int port;
    private final List<Connection> opened = new ArrayList<>();
    private final ThreadLocal<Connection> connection = new ThreadLocal<>();

    KeepAliveHttp(String baseUrl) {
        URI uri = URI.create(baseUrl);
        this.host = uri.getHost();
        this.port = uri.getPort();
    }

    /** A POST with a JSON body, prepared once and sent as often as needed. */
    byte[] preparePost(String path, String json) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + port
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] request = new byte[head.length + body.length];
        System.arraycopy(head, 0, request, 0, head.length);
        System.arraycopy(body, 0, request, head.length, body.length);
        return request;
    }

    /** A GET without a body. */
    byte[] prepareGet(String path) {
        return ("GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** Sends a prepared request on this thread's connection; true when the answer is 200 and contains {@code needle}. */
    boolean send(byte[] request, String needle) {
        Reply r = call(request);
        return r.status() == 200 && r.body().contains(needle);
    }

    /** An answer's status and body (as UTF-8 text). */
    record Reply(int status, String body) {
    }

    /** Sends a prepared request on this thread's connection and returns the answer. */
    Reply call(byte[] request) {
        Connection c = connection.get();
        try {
            if (c == null) {
                c = open();
                connection.set(c);
            }
            Response r = c.exchange(request);
            if (r.close) {
                c.close();
                connection.remove();
            }
            return new Reply(r.status, new String(r.body, StandardCharsets.UTF_8));
        } catch (IOException e) {
            if (c != null) c.close();
            connection.remove();
            throw new UncheckedIOException(e);
        }
    }

    private Connection open() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.setSoTimeout(READ_TIMEOUT_MILLIS); // a server that stops answering fails the call instead of hanging it
        s.connect(new InetSocketAddress(host, port), 5_000);
        Connection c = new Connection(s);
        synchronized (opened) {
            opened.add(c);
        }
        return c;
    }

    @Override
    public void close() {
        synchronized (opened) {
            opened.forEach(Connection::close);
            opened.clear();
        }
    }

    private record Response(int status, byte[] body, boolean close) {
    }

    private static final class Connection {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
            this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
        }

        Response exchange(byte[] request) throws IOException {
            out.write(request);
            out.flush();
            String status = line();
            if (!status.startsWith("HTTP/1.1 ") || status.length() < 12) throw new IOException("bad status: " + status);
            int code = Integer.parseInt(status.substring(9, 12));
            long length = -1;
            boolean chunked = false;
            boolean close = false;
            for (String h; !(h = line()).isEmpty(); ) {
                int colon = h.indexOf(':');
                if (colon < 0) continue;
                String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = h.substring(colon + 1).trim();
                switch (name) {
                    case "content-length" -> length = Long.parseLong(value);
                    case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                    case "connection" -> close = value.equalsIgnoreCase("close");
                    default -> { }
                }
            }
            byte[] body;
            if (chunked) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                for (int size; (size = Integer.parseInt(line().split(";")[0].trim(), 16)) > 0; ) {
                    b.write(in.readNBytes(size));
                    line();
                }
                while (!line().isEmpty()) {
                    // trailers
                }
                body = b.toByteArray();
            } else if (length >= 0) {
                body = in.readNBytes((int) length);
            } else {
                throw new IOException("response without a length");
            }
            return new Response(code, body, close);
        }

        private String line() throws IOException {
            StringBuilder b = new StringBuilder(64);
            for (int ch; (ch = in.read()) != '\n'; ) {
                if (ch < 0) throw new IOException("connection closed");
                if (ch != '\r') b.append((char) ch);
            }
            return b.toString();
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a load generator's socket: nothing to do
            }
        }
    }
}
