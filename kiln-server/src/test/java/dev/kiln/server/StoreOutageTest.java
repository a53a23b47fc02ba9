package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real full disk (SQLITE_FULL) under a running server: the data directory lives on a small tmpfs that the test
 * fills while jobs run and wait. Results that arrive meanwhile and claims the dispatcher makes must not be lost:
 * the API says 503 with Retry-After, /health says what is wrong, and once there is room again every job reaches
 * exactly one terminal state by itself.
 */
class StoreOutageTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    @Timeout(180)
    void resultsAndClaimsDuringAFullDiskAreMadeOnceTheDiskHasRoom() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs root (to mount a tmpfs), bubblewrap and cgroups");
        Path mount = Files.createTempDirectory("kiln-full-disk-");
        run("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", mount.toString());
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withDataDir(mount.resolve("data")).withSlots(2))) {
            List<String> ids = new ArrayList<>();
            // Two run through the outage (their results arrive while the disk is full); three wait to be claimed.
            for (int i = 0; i < 5; i++) {
                ids.add(kiln.client.submit(JobRequest.python("import time; time.sleep(3); print('done')")).jobId());
            }
            Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> kiln.client.get(ids.get(1), 0).status().equals("running"));
            Path filler = mount.resolve("filler");
            fill(filler);

            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> health(kiln).statusCode() == 503);
            JsonNode health = JSON.readTree(health(kiln).body());
            assertThat(health.path("store").asString()).isEqualTo("error");
            assertThat(health.path("store_problem").asString()).containsIgnoringCase("full");
            HttpResponse<String> refused = kiln.post("/jobs", "{\"code\": \"print(1)\"}");
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(JSON.readTree(refused.body()).at("/error/code").asString()).isEqualTo("store_unavailable");
            // The two running jobs end while the disk is full: their results wait for the store.
            Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> JSON.readTree(health(kiln).body()).path("pending_writes").asInt() >= 2);
            assertThat(kiln.client.get(ids.get(0), 0).status()).isEqualTo("running");

            Files.delete(filler);
            for (String id : ids) {
                assertThat(kiln.client.get(id, 60).status()).as(id).isEqualTo("succeeded");
                JsonNode executions = kiln.client.executions(id).path("executions");
                assertThat(executions).as(id).hasSize(1);
                assertThat(executions.get(0).path("status").asString()).isEqualTo("succeeded");
            }
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> health(kiln).statusCode() == 200);
            assertThat(kiln.client.submit(JobRequest.python("print(1)")).jobId()).isNotBlank();
        } finally {
            run("umount", "-l", mount.toString());
            Files.deleteIfExists(mount);
        }
    }

    private static HttpResponse<String> health(TestServer kiln) throws IOException, InterruptedException {
        return kiln.get("/health");
    }

    /** Writes until the file system refuses another byte. */
    private static void fill(Path file) throws IOException {
        byte[] chunk = new byte[64 << 10];
        try (OutputStream out = Files.newOutputStream(file)) {
            while (true) {
                try {
                    out.write(chunk);
                } catch (IOException full) {
                    break;
                }
            }
            for (int i = 0; i < 64; i++) {
                try {
                    out.write(chunk, 0, 1024);
                    out.flush();
                } catch (IOException full) {
                    break;
                }
            }
        } catch (IOException closingAFullFile) {
            // the buffered tail could not be written: the disk is full either way
        }
    }

    private static void run(String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", argv) + ": " + out);
    }
}
