package dev.kiln.server.http;

import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.LiveOutputStore;
import dev.kiln.core.LiveOutput;
import dev.kiln.core.Orchestrator;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code GET /jobs/{id}/output}: a job's stdout and stderr as server-sent events while it runs ({@code stdout} and
 * {@code stderr} events, each a JSON {@code {"text": ...}}), then one {@code end} event with its status. A job
 * that already finished answers its stored output and the end at once; a queued one waits until it starts.
 * Written by hand rather than with Javalin's SSE support, which answers an empty 200 to a client that does not send
 * {@code Accept: text/event-stream} (curl, most HTTP clients) and cannot answer 404 for an unknown job.
 */
public final class LiveOutputRoute {
    private static final long KEEPALIVE_MILLIS = 15_000;
    private static final long WAIT_MILLIS = 50;

    /** A follower of a job running elsewhere asks again this often while nothing arrives (a lost signal, a move). */
    private static final long ASK_AGAIN_MILLIS = 5_000;
    private static final long CHECK_MILLIS = 1_000;

    private final Orchestrator orchestrator;
    private final JsonMapper json;
    private final ReplicaLiveOutput replicas;
    private final StreamLimits limits;

    /**
     * @param replicas live output from the other replicas sharing the store
     * @param limits   how many streams one client, and all of them, may hold open
     */
    public LiveOutputRoute(Orchestrator orchestrator, JsonMapper json, ReplicaLiveOutput replicas,
                           StreamLimits limits) {
        this.orchestrator = orchestrator;
        this.json = json;
        this.replicas = replicas;
        this.limits = limits;
    }

    public void register(JavalinConfig config) {
        config.routes.get("/jobs/{id}/output", this::stream);
    }

    /** A server-sent event stream on the response; a write failing means the client left. */
    private record SseClient(String id, OutputStream out) {
        void sendEvent(String event, String data) throws IOException {
            out.write(("event: " + event + "\ndata: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        void sendComment(String text) throws IOException {
            out.write((": " + text + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private void stream(Context ctx) throws IOException {
        String id = ctx.pathParam("id");
        dev.kiln.server.auth.JobAccess.require(orchestrator, ctx, id); // 404 before the stream starts
        java.net.InetAddress client = clientAddress(ctx);
        limits.open(client); // 429 or 503 past the caps
        try {
            follow(ctx, id);
        } finally {
            limits.close(client);
        }
    }

    private static java.net.InetAddress clientAddress(Context ctx) {
        try {
            return java.net.InetAddress.getByName(ctx.req().getRemoteAddr()); // a literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    private void follow(Context ctx, String id) throws IOException {
        ctx.status(200).contentType("text/event-stream;charset=utf-8").header("Cache-Control", "no-cache")
                .header("X-Accel-Buffering", "no");
        ctx.res().flushBuffer(); // the client knows at once that the stream is open, also before the job starts
        SseClient client = new SseClient(id, ctx.res().getOutputStream());
        BlockingQueue<LiveOutput.Chunk> queue = new LinkedBlockingQueue<>();
        Consumer<LiveOutput.Chunk> follower = queue::add; // never blocks the job's output path
        long waits = 0;
        try {
            while (true) {
                if (orchestrator.liveOutput().follow(id, follower)) {
                    relay(client, queue);
                    return;
                }
                JobRecord job = orchestrator.require(id);
                if (job.status().isTerminal()) {
                    replayStored(client, job);
                    return;
                }
                if (job.status() == JobStatus.RUNNING && replicas.shared() && !orchestrator.runningHere(id)) {
                    relayFromAnotherReplica(client);
                    return;
                }
                // Not started yet: wait (a comment every ~15 s finds a client that left).
                if (++waits % (KEEPALIVE_MILLIS / WAIT_MILLIS) == 0) client.sendComment("waiting to start");
                Thread.sleep(WAIT_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException clientLeft) {
            // nothing to clean up but the follower
        } finally {
            orchestrator.liveOutput().unfollow(id, follower);
        }
    }

    private void relay(SseClient client, BlockingQueue<LiveOutput.Chunk> queue)
            throws InterruptedException, IOException {
        String id = client.id();
        while (true) {
            LiveOutput.Chunk c = queue.poll(KEEPALIVE_MILLIS, TimeUnit.MILLISECONDS);
            if (c == null) {
                client.sendComment("running");
                continue;
            }
            if (c.isEnd()) {
                JobRecord job = orchestrator.require(id);
                if (!job.status().isTerminal()) job = orchestrator.await(id, java.time.Duration.ofSeconds(5));
                sendEnd(client, job);
                return;
            }
            sendText(client, c.stream(), c.text());
        }
    }

    /**
     * The job runs on a node of another replica: that replica mirrors its output to the store once asked, and each
     * announcement wakes this follower to read what is new. At the end, what the mirror did not carry (printed
     * before the last flush, or while the store was away) comes from the job's result.
     */
    private void relayFromAnotherReplica(SseClient client) throws IOException, InterruptedException {
        String id = client.id();
        Semaphore wake = replicas.watch(id);
        Map<String, Integer> sent = new HashMap<>();
        long after = 0;
        long quiet = 0;
        long sinceAsked = 0;
        try {
            replicas.askToMirror(id);
            while (true) {
                List<LiveOutputStore.StoredChunk> chunks = replicas.since(id, after);
                for (LiveOutputStore.StoredChunk c : chunks) {
                    sendText(client, c.stream(), c.text());
                    sent.merge(c.stream(), c.text().length(), Integer::sum);
                    after = c.seq();
                }
                JobRecord job = orchestrator.require(id);
                if (job.status().isTerminal()) {
                    JobResult r = job.result();
                    if (r != null) {
                        sendRest(client, "stdout", r.stdout(), sent.getOrDefault("stdout", 0));
                        sendRest(client, "stderr", r.stderr(), sent.getOrDefault("stderr", 0));
                    }
                    sendEnd(client, job);
                    return;
                }
                boolean woken = ReplicaLiveOutput.await(wake, CHECK_MILLIS);
                quiet = woken ? 0 : quiet + CHECK_MILLIS;
                sinceAsked += CHECK_MILLIS;
                if (!woken && sinceAsked >= ASK_AGAIN_MILLIS) {
                    replicas.askToMirror(id);
                    sinceAsked = 0;
                }
                if (quiet > 0 && quiet % KEEPALIVE_MILLIS == 0) client.sendComment("running");
            }
        } finally {
            replicas.unwatch(id, wake);
        }
    }

    private void sendRest(SseClient client, String stream, String all, int sentChars) throws IOException {
        if (all != null && all.length() > sentChars) sendText(client, stream, all.substring(sentChars));
    }

    private void replayStored(SseClient client, JobRecord job) throws IOException {
        JobResult r = job.result();
        if (r != null) {
            if (!r.stdout().isEmpty()) sendText(client, "stdout", r.stdout());
            if (!r.stderr().isEmpty()) sendText(client, "stderr", r.stderr());
        }
        sendEnd(client, job);
    }

    private void sendText(SseClient client, String stream, String text) throws IOException {
        ObjectNode o = json.createObjectNode();
        o.put("text", text);
        client.sendEvent(stream, json.writeValueAsString(o));
    }

    private void sendEnd(SseClient client, JobRecord job) throws IOException {
        ObjectNode o = json.createObjectNode();
        o.put("status", job.status().wireName());
        JobResult r = job.result();
        if (r == null || r.exitCode() == null) o.putNull("exit_code"); else o.put("exit_code", r.exitCode());
        client.sendEvent("end", json.writeValueAsString(o));
    }
}
