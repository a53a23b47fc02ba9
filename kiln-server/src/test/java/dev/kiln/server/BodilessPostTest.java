package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Action endpoints take no body, yet clients send one ("{}"). Unless the server reads it, Jetty closes the
 * keep-alive connection when the body arrives after the handler finished, and a client that reuses the connection
 * gets no answer to its next request (seen in CI as "HTTP/1.1 header parser received no bytes" on a submit right
 * after a drain).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BodilessPostTest {
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c);
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    @Test
    void aBodySentLateToAnActionEndpointKeepsTheConnectionUsable() throws Exception {
        URI base = URI.create(kiln.server.baseUrl());
        for (String path : new String[] {"/jobs/nope/cancel", "/nodes/nope/drain", "/nodes/nope/resume",
                "/job-types/nope/build"}) {
            try (Socket s = new Socket(base.getHost(), base.getPort())) {
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
                        StandardCharsets.US_ASCII));
                out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 2\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Thread.sleep(200); // the body comes after the handler would have answered without reading it
                out.write("{}".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(statusLine(in)).as(path).isEqualTo("HTTP/1.1 404 Not Found");

                out.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(statusLine(in)).as("the next request on the same connection, after " + path)
                        .isEqualTo("HTTP/1.1 200 OK");
            }
        }
    }

    /** The status line of the next response, its headers and its body (Content-Length) consumed. */
    private static String statusLine(BufferedReader in) throws IOException {
        String status = in.readLine();
        long length = 0;
        for (String h; (h = in.readLine()) != null && !h.isEmpty(); ) {
            if (h.toLowerCase().startsWith("content-length:")) length = Long.parseLong(h.substring(15).trim());
        }
        for (long i = 0; i < length; i++) in.read();
        return status;
    }
}
