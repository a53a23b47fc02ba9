package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.server.config.HttpSettings;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Clients that hold connections without using them: a body that stops arriving is cut with 408, an idle keep-alive
 * connection is closed, a long wait for a job is not, and hundreds of stalled or idle connections (from other
 * loopback addresses than the test's own client) leave the API answering; past the caps, 429 and 503.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SlowClientsTest {
    private static final int PER_CLIENT = 100;
    private static TestServer kiln;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withHttp(HttpSettings.DEFAULTS.withBodyTimeoutMillis(1000)
                .withIdleTimeoutMillis(2000).withConnectionLimits(400, PER_CLIENT).withStreamLimits(1000, 2)));
        port = kiln.server.port();
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    /** A connection from {@code source} (any 127.x address: all of them reach loopback here). */
    private static Socket connect(String source) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(source, 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        s.setSoTimeout(10_000);
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
    }

    /** What the server sends until it closes the connection (or the read times out). */
    private static String readAll(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder out = new StringBuilder();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) > 0) out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        } catch (SocketTimeoutException stillOpen) {
            out.append("<still open>");
        }
        return out.toString();
    }

    @Test
    void aBodyThatStopsArrivingIsCutWith408() throws Exception {
        try (Socket s = connect("127.0.0.1")) {
            long t0 = System.nanoTime();
            send(s, "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                    + "{\"code\": ");
            String response = readAll(s);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertThat(response).startsWith("HTTP/1.1 408").contains("\"field\":\"body\"")
                    .contains("http.body_timeout").doesNotContain("<still open>");
            assertThat(millis).as("cut near the body timeout, not the hour it used to take").isLessThan(8_000);
        }
    }

    @Test
    void anIdleKeepAliveConnectionIsClosed() throws Exception {
        try (Socket s = connect("127.0.0.1")) {
            send(s, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
            String response = readAll(s); // the answer, then nothing until the server closes it
            assertThat(response).startsWith("HTTP/1.1 200").doesNotContain("<still open>");
        }
    }

    @Test
    void aLongWaitForAJobIsNotCutByTheIdleTimeout() {
        String id = kiln.client.submit(JobRequest.python("pass").withConstraints("zone=nowhere")).jobId();
        long t0 = System.nanoTime();
        assertThat(kiln.client.get(id, 4).status()).isEqualTo("queued");
        assertThat((System.nanoTime() - t0) / 1_000_000).isGreaterThanOrEqualTo(3_900);
        kiln.client.cancel(id);
    }

    @Test
    void hundredsOfStalledAndIdleConnectionsLeaveTheApiAnswering() throws Exception {
        List<Socket> held = new ArrayList<>();
        try {
            // Two other clients, each at its cap: half stalled in a body, half idle after connecting.
            for (String source : List.of("127.0.0.2", "127.0.0.3")) {
                for (int i = 0; i < PER_CLIENT; i++) {
                    Socket s = connect(source);
                    if (i % 2 == 0) send(s, "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{");
                    held.add(s);
                }
            }
            // One more from the same client: refused at once with 429.
            try (Socket over = connect("127.0.0.2")) {
                assertThat(readAll(over)).startsWith("HTTP/1.1 429").contains("Retry-After: 1")
                        .contains("http.max_connections_per_client");
            }
            // The test's own client is served meanwhile: health, a job end to end.
            assertThat(kiln.get("/health").statusCode()).isEqualTo(200);
            assertThat(kiln.client.execute(JobRequest.python("print(1)")).status()).isEqualTo("succeeded");
        } finally {
            for (Socket s : held) s.close();
        }
    }

    @Test
    void pastTheStreamCapAClientGets429WithRetryAfter() throws Exception {
        String id = kiln.client.submit(JobRequest.python("pass").withConstraints("zone=nowhere")).jobId();
        List<Socket> streams = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                Socket s = connect("127.0.0.4");
                send(s, "GET /jobs/" + id + "/output HTTP/1.1\r\nHost: x\r\n\r\n");
                byte[] head = s.getInputStream().readNBytes(12);
                assertThat(new String(head, StandardCharsets.UTF_8)).isEqualTo("HTTP/1.1 200");
                streams.add(s);
            }
            try (Socket third = connect("127.0.0.4")) {
                send(third, "GET /jobs/" + id + "/output HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                assertThat(readAll(third)).startsWith("HTTP/1.1 429").contains("Retry-After: 1")
                        .contains("http.max_streams_per_client");
            }
            // Another client is not held back by this one's streams.
            try (Socket other = connect("127.0.0.5")) {
                send(other, "GET /jobs/" + id + "/output HTTP/1.1\r\nHost: x\r\n\r\n");
                assertThat(new String(other.getInputStream().readNBytes(12), StandardCharsets.UTF_8))
                        .isEqualTo("HTTP/1.1 200");
            }
        } finally {
            for (Socket s : streams) s.close();
            kiln.client.cancel(id);
        }
    }
}
