package dev.kiln.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** A small, thread-safe Java client for the Kiln HTTP API. */
public final class KilnClient {
    private final URI base;
    private final HttpClient http;
    private final String apiKey; // null: anonymous
    private final JsonMapper json = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    public KilnClient(String baseUrl) {
        this(baseUrl, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build());
    }

    public KilnClient(String baseUrl, HttpClient http) {
        this(baseUrl, http, null);
    }

    /** @param apiKey sent as {@code Authorization: Bearer <key>} with every request (null: none) */
    public KilnClient(String baseUrl, HttpClient http, String apiKey) {
        this.base = URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
        this.http = http;
        this.apiKey = apiKey;
    }

    /** The same server with {@code key}. */
    public KilnClient withApiKey(String key) {
        return new KilnClient(base.toString(), http, key);
    }

    /** {@code POST /keys}: {@code {"id", "namespace", "role", "key", ...}}; the key is shown this once. */
    public JsonNode createKey(String namespace, String role) {
        ObjectNode o = json.createObjectNode();
        if (namespace != null) o.put("namespace", namespace);
        if (role != null) o.put("role", role);
        return send(post("keys", o.toString()));
    }

    /** {@code POST /node-tokens}: a join token for one node ({@code nodeId} null: the first that joins with it). */
    public JsonNode createNodeToken(String nodeId) {
        ObjectNode o = json.createObjectNode();
        if (nodeId != null) o.put("node_id", nodeId);
        return send(post("node-tokens", o.toString()));
    }

    public JsonNode nodeTokens() {
        return send(get("node-tokens"));
    }

    public void revokeNodeToken(String id) {
        HttpResponse<String> r = exchange(HttpRequest.newBuilder(base.resolve("node-tokens/" + enc(id))).DELETE()
                .build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
    }

    /** {@code GET /keys}. */
    public JsonNode keys() {
        return send(get("keys"));
    }

    /** {@code DELETE /keys/{id}}: the key stops working at once. */
    public void revokeKey(String id) {
        HttpResponse<String> r = exchange(HttpRequest.newBuilder(base.resolve("keys/" + enc(id))).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
    }

    /** Runs a job and waits for its result ({@code POST /execute}). */
    public JobResponse execute(JobRequest request) {
        return json.treeToValue(send(post("execute", body(request, false))), JobResponse.class);
    }

    /** Submits a job and returns at once ({@code POST /jobs}). */
    public JobResponse submit(JobRequest request) {
        return json.treeToValue(send(post("jobs", body(request, true))), JobResponse.class);
    }

    /** {@code GET /jobs/{id}}, blocking up to {@code waitSeconds} for a terminal state (0: no wait). */
    public JobResponse get(String jobId, int waitSeconds) {
        String q = waitSeconds > 0 ? "?wait=" + waitSeconds : "";
        return json.treeToValue(send(get("jobs/" + enc(jobId) + q)), JobResponse.class);
    }

    public JobList list(String status, int limit, String cursor) {
        StringBuilder q = new StringBuilder("jobs?limit=").append(limit);
        if (status != null) q.append("&status=").append(enc(status));
        if (cursor != null) q.append("&cursor=").append(enc(cursor));
        return json.treeToValue(send(get(q.toString())), JobList.class);
    }

    public JobResponse cancel(String jobId) {
        return json.treeToValue(send(post("jobs/" + enc(jobId) + "/cancel")), JobResponse.class);
    }

    /** A job's attempts ({@code GET /jobs/{id}/executions}): {@code {"job_id", "executions": [...]}}. */
    public JsonNode executions(String jobId) {
        return send(get("jobs/" + enc(jobId) + "/executions"));
    }

    /** Deletes now every finished job older than {@code olderThan} ({@code 7d}, {@code 12h}, ...): {@code POST /gc}. */
    public JsonNode gc(String olderThan) {
        return send(post("gc", json.createObjectNode().put("older_than", olderThan).toString()));
    }

    public byte[] artifact(String jobId, String name) {
        HttpResponse<byte[]> r = exchange(get("jobs/" + enc(jobId) + "/artifacts/" + name),
                HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() >= 400) throw error(r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        return r.body();
    }

    public JsonNode health() {
        HttpResponse<String> r = exchange(get("health"), HttpResponse.BodyHandlers.ofString());
        return json.readTree(r.body());
    }

    public JsonNode jobTypes() {
        return send(get("job-types"));
    }

    public JsonNode nodes() {
        return send(get("nodes"));
    }

    public JsonNode node(String id) {
        return send(get("nodes/" + enc(id)));
    }

    /** The node finishes what it runs and takes no new work until {@link #resumeNode}. */
    public JsonNode drainNode(String id) {
        return send(post("nodes/" + enc(id) + "/drain"));
    }

    public JsonNode resumeNode(String id) {
        return send(post("nodes/" + enc(id) + "/resume"));
    }

    /**
     * Follows a job's output as it is printed ({@code GET /jobs/{id}/output}): {@code onText} gets each piece with
     * its stream ({@code stdout} or {@code stderr}); returns the end event ({@code status}, {@code exit_code}) once
     * the job has finished.
     */
    public JsonNode followOutput(String jobId, java.util.function.BiConsumer<String, String> onText) {
        HttpResponse<java.util.stream.Stream<String>> r = exchange(get("jobs/" + enc(jobId) + "/output"),
                HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() >= 400) {
            throw error(r.statusCode(), String.join("\n", r.body().toList()));
        }
        String event = null;
        try (java.util.stream.Stream<String> lines = r.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ") && event != null) {
                    JsonNode data = json.readTree(line.substring(6));
                    if (event.equals("end")) return data;
                    onText.accept(event, data.path("text").asString(""));
                }
            }
        }
        throw new UncheckedIOException(new IOException("the output stream of job " + jobId + " ended early"));
    }

    /** Forgets a remote node: it is told not to come back, and what it ran is re-queued. */
    public void deleteNode(String id) {
        HttpResponse<String> r = exchange(HttpRequest.newBuilder(base.resolve("nodes/" + enc(id))).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
    }

    public JsonNode jobType(String name) {
        return send(get("job-types/" + enc(name)));
    }

    /** Builds a job type's layer; blocks until built unless {@code async}. A failed build is a 422 error. */
    public JsonNode buildJobType(String name, boolean async) {
        return send(post("job-types/" + enc(name) + "/build" + (async ? "?async=true" : "")));
    }

    public String jobTypeBuildLog(String name) {
        HttpResponse<String> r = exchange(get("job-types/" + enc(name) + "/build-log"),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
        return r.body();
    }

    /** Registers or replaces a run-time job type; {@code definition} has the kiln.yaml fields. */
    public JsonNode putJobType(String name, Object definition) {
        HttpRequest request = HttpRequest.newBuilder(base.resolve("job-types/" + enc(name)))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json.writeValueAsString(definition))).build();
        return send(request);
    }

    public void deleteJobType(String name) {
        HttpResponse<String> r = exchange(HttpRequest.newBuilder(base.resolve("job-types/" + enc(name))).DELETE()
                .build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
    }

    private String body(JobRequest request, boolean async) {
        ObjectNode o = json.createObjectNode();
        o.put("code", request.code());
        if (request.inputData() != null) o.set("input_data", json.valueToTree(request.inputData()));
        if (request.jobType() != null) o.put("job_type", request.jobType());
        if (request.timeout() != null) o.put("timeout", request.timeout());
        if (request.files() != null && !request.files().isEmpty()) {
            ObjectNode files = o.putObject("files");
            for (Map.Entry<String, byte[]> f : request.files().entrySet()) {
                files.putObject(f.getKey()).put("content", Base64.getEncoder().encodeToString(f.getValue()))
                        .put("encoding", "base64");
            }
        }
        if (request.idempotencyKey() != null) o.put("idempotency_key", request.idempotencyKey());
        if (request.queueTimeout() != null) o.put("queue_timeout", request.queueTimeout());
        if (request.constraints() != null && !request.constraints().isEmpty()) {
            request.constraints().forEach(o.putArray("constraints")::add);
        }
        return json.writeValueAsString(o);
    }

    /** A POST that carries nothing (an action on the resource named by the path). */
    private HttpRequest post(String path) {
        return HttpRequest.newBuilder(base.resolve(path)).POST(HttpRequest.BodyPublishers.noBody()).build();
    }

    private HttpRequest post(String path, String body) {
        return HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private HttpRequest get(String path) {
        return HttpRequest.newBuilder(base.resolve(path)).GET().build();
    }

    private JsonNode send(HttpRequest request) {
        HttpResponse<String> r = exchange(request, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) throw error(r.statusCode(), r.body());
        return json.readTree(r.body());
    }

    private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
        if (apiKey != null) {
            request = HttpRequest.newBuilder(request, (name, value) -> true)
                    .header("Authorization", "Bearer " + apiKey).build();
        }
        try {
            return http.send(request, handler);
        } catch (ConnectException e) {
            throw new UncheckedIOException("cannot connect to Kiln at " + base + " (is `kiln server` running?)", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private KilnApiException error(int status, String body) {
        try {
            JsonNode n = json.readTree(body);
            JsonNode e = n.path("error");
            return new KilnApiException(status, e.path("code").asString(""), e.path("field").asString(null),
                    n.path("detail").asString(body));
        } catch (RuntimeException notJson) {
            return new KilnApiException(status, "http_" + status, null, body);
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
