package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.json.JsonMapper;

/** {@code GET /jobs/{id}/output}: what a sandboxed job prints reaches a follower while the job still runs. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LiveOutputTest {
    private static final JsonMapper JSON = new JsonMapper();
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
        kiln = TestServer.start("bwrap", c -> c);
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    /** One server-sent event: its name and data. */
    record Event(String name, String data) {
    }

    /** Reads the job's event stream; {@code onEvent} sees each event as it arrives. */
    static List<Event> follow(String baseUrl, String jobId, java.util.function.Consumer<Event> onEvent)
            throws Exception {
        HttpResponse<java.util.stream.Stream<String>> r = java.net.http.HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(baseUrl + "/jobs/" + jobId + "/output")).GET().build(),
                HttpResponse.BodyHandlers.ofLines());
        assertThat(r.statusCode()).isEqualTo(200);
        List<Event> events = new ArrayList<>();
        String name = null;
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (line.startsWith("event:")) name = line.substring(6).trim();
            if (line.startsWith("data:")) {
                Event e = new Event(name, line.substring(5).trim());
                events.add(e);
                onEvent.accept(e);
                if ("end".equals(name)) break;
            }
        }
        return events;
    }

    @Test
    void printedLinesArriveWhileTheJobRunsThenTheEnd() throws Exception {
        JobResponse job = kiln.client.submit(JobRequest.python(
                "import sys, time\nprint('first', flush=True)\nprint('oops', file=sys.stderr, flush=True)\n"
                        + "time.sleep(1.5)\nprint('second')"));
        List<String> statusAtFirst = new ArrayList<>();
        List<Event> events = follow(kiln.server.baseUrl(), job.jobId(), e -> {
            if (e.data().contains("first")) statusAtFirst.add(kiln.client.get(job.jobId(), 0).status());
        });
        assertThat(statusAtFirst).as("first line seen while the job ran").containsExactly("running");
        // Events are chunks as the pipe delivered them ("second" and its newline may come apart): join the text.
        String stdout = String.join("", events.stream().filter(e -> "stdout".equals(e.name()))
                .map(e -> JSON.readTree(e.data()).get("text").asString()).toList());
        assertThat(stdout).isEqualTo("first\nsecond\n");
        assertThat(events).anyMatch(e -> "stderr".equals(e.name()) && e.data().contains("oops"));
        assertThat(events.getLast().name()).isEqualTo("end");
        assertThat(events.getLast().data()).contains("\"status\":\"succeeded\"").contains("\"exit_code\":0");
    }

    @Test
    void aFinishedJobReplaysItsStoredOutput() throws Exception {
        JobResponse done = kiln.client.execute(JobRequest.python("print('stored')"));
        List<Event> events = follow(kiln.server.baseUrl(), done.jobId(), e -> { });
        assertThat(events).extracting(Event::name).containsExactly("stdout", "end");
        assertThat(events.getFirst().data()).isEqualTo("{\"text\":\"stored\\n\"}");
    }

    @Test
    void anUnknownJobIs404() throws Exception {
        HttpResponse<String> r = kiln.get("/jobs/nope/output");
        assertThat(r.statusCode()).isEqualTo(404);
    }
}
