package dev.kiln.server.http;

import dev.kiln.core.JobPage;
import dev.kiln.server.auth.JobAccess;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobStatus;
import dev.kiln.core.StoreHealth;
import dev.kiln.core.JobType;
import dev.kiln.core.KilnException;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.ArtifactStore;
import dev.kiln.core.JobSpecValidator;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** The HTTP API: thin handlers that parse, call the orchestrator and render. */
public final class ApiRoutes {
    private static final int MAX_WAIT_SECONDS = 300;
    private static final int MAX_PAGE = 500;

    private final Orchestrator orchestrator;
    private final ArtifactStore artifacts;
    private final JsonMapper json;
    private final JobRequestParser parser;
    private final JobJson jobJson;
    private final long maxBodyBytes;
    private final Supplier<String> metrics;
    private final byte[] openApi;

    public ApiRoutes(Orchestrator orchestrator, ArtifactStore artifacts, JsonMapper json, long maxBodyBytes,
                     Supplier<String> metrics) {
        this.orchestrator = orchestrator;
        this.artifacts = artifacts;
        this.json = json;
        this.parser = new JobRequestParser(json);
        this.jobJson = new JobJson(json);
        this.maxBodyBytes = maxBodyBytes;
        this.metrics = metrics;
        this.openApi = OpenApiDocument.bytes();
    }

    public void register(JavalinConfig config) {
        var r = config.routes;
        r.post("/execute", this::execute);
        r.post("/jobs", this::submit);
        r.get("/jobs", this::list);
        r.get("/jobs/{id}", this::get);
        r.post("/jobs/{id}/cancel", this::cancel);
        r.get("/jobs/{id}/executions", this::executions);
        r.get("/jobs/{id}/artifacts/<name>", this::artifact);
        r.get("/health", this::health);
        r.post("/gc", this::gc);
        r.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.get()));
        r.get("/openapi.json", ctx -> ctx.contentType("application/json").result(openApi));
        ErrorResponses.register(config, json);
    }

    private void execute(Context ctx) throws InterruptedException {
        JobRequestParser.Parsed p = parser.parse(RequestBodies.read(ctx, maxBodyBytes), true);
        JobType type = orchestrator.jobTypes().require(p.spec().jobType());
        // The job's own timeout bounds the run; the extra hour bounds the time it may wait in the queue.
        JobRecord done = orchestrator.execute(p.spec(), p.idempotencyKey(), JobAccess.submitter(ctx),
                Duration.ofSeconds(type.maxTimeoutSeconds()).plusHours(1));
        ctx.status(done.status().isTerminal() ? 200 : 202);
        send(ctx, view(done, true));
    }

    private void submit(Context ctx) {
        JobRequestParser.Parsed p = parser.parse(RequestBodies.read(ctx, maxBodyBytes), true);
        JobRecord job = orchestrator.submit(p.spec(), p.idempotencyKey(), JobAccess.submitter(ctx));
        ctx.status(202).header("Location", "/jobs/" + job.id());
        send(ctx, view(job, true));
    }

    private void get(Context ctx) throws InterruptedException {
        String id = ctx.pathParam("id");
        int wait = intParam(ctx, "wait", 0, 0, MAX_WAIT_SECONDS);
        JobRecord job = JobAccess.require(orchestrator, ctx, id);
        if (wait > 0 && !job.status().isTerminal()) job = orchestrator.await(id, Duration.ofSeconds(wait));
        send(ctx, view(job, true));
    }

    private void list(Context ctx) {
        String statusParam = ctx.queryParam("status");
        JobStatus status = null;
        if (statusParam != null && !statusParam.isEmpty()) {
            try {
                status = JobStatus.fromWire(statusParam);
            } catch (IllegalArgumentException e) {
                throw KilnException.invalid("status", "must be one of queued, running, succeeded, failed, timeout, "
                        + "oom, cancelled; got '" + statusParam + "'");
            }
        }
        int limit = intParam(ctx, "limit", 50, 1, MAX_PAGE);
        String cursor = ctx.queryParam("cursor");
        if (cursor != null && !cursor.matches("\\d{1,19}")) {
            throw KilnException.invalid("cursor", "is not a cursor returned by this API");
        }
        JobPage page = orchestrator.list(JobAccess.listedNamespace(ctx), status, limit,
                cursor == null || cursor.isEmpty() ? null : cursor);
        ObjectNode o = json.createObjectNode();
        ArrayNode jobs = o.putArray("jobs");
        page.jobs().forEach(j -> jobs.add(view(j, false)));
        o.put("next_cursor", page.nextCursor());
        send(ctx, o);
    }

    private void executions(Context ctx) {
        String id = ctx.pathParam("id");
        JobAccess.require(orchestrator, ctx, id);
        ObjectNode o = json.createObjectNode();
        o.put("job_id", id);
        ArrayNode list = o.putArray("executions");
        orchestrator.executions(id).forEach(e -> list.add(jobJson.render(e)));
        send(ctx, o);
    }

    private void cancel(Context ctx) throws InterruptedException {
        RequestBodies.ignore(ctx);
        JobRecord job = JobAccess.require(orchestrator, ctx, ctx.pathParam("id"));
        send(ctx, view(orchestrator.cancel(job.id()), true));
    }

    private void artifact(Context ctx) throws IOException {
        String id = ctx.pathParam("id");
        String name = ctx.pathParam("name");
        JobSpecValidator.checkRelativePath("name", name);
        JobRecord job = JobAccess.require(orchestrator, ctx, id);
        // Artifacts live under the execution whose result the job holds; jobs stored before that, under the job.
        Optional<InputStream> in = job.result() != null && job.attempt() > 0
                ? artifacts.open(job.currentExecutionId(), name) : Optional.empty();
        if (in.isEmpty()) in = artifacts.open(id, name);
        if (in.isEmpty()) throw KilnException.notFound("artifact '" + name + "' of job " + id);
        ctx.contentType("application/octet-stream").result(in.get());
    }

    /** {@code {"older_than": "7d"}}: deletes now every finished job older than that, as retention would. */
    private void gc(Context ctx) {
        byte[] body = RequestBodies.read(ctx, 64 << 10);
        tools.jackson.databind.JsonNode root;
        try {
            root = json.readTree(body);
        } catch (tools.jackson.core.JacksonException e) {
            throw KilnException.invalid("body", "is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw KilnException.invalid("body", "must be a JSON object");
        for (String name : root.propertyNames()) {
            if (!name.equals("older_than")) throw KilnException.invalid(name, "unknown field");
        }
        tools.jackson.databind.JsonNode v = root.get("older_than");
        if (v == null || v.isNull()) throw KilnException.invalid("older_than", "is required (examples: 7d, 12h, 30m)");
        Duration age;
        try {
            age = dev.kiln.core.Durations.parse(v.isNumber() ? v.asString() : v.isString() ? v.asString() : "?");
        } catch (IllegalArgumentException e) {
            throw KilnException.invalid("older_than", e.getMessage());
        }
        int deleted = orchestrator.purgeFinishedOlderThan(age);
        ObjectNode o = json.createObjectNode();
        o.put("deleted_jobs", deleted);
        o.put("older_than", dev.kiln.core.Durations.format(age));
        send(ctx, o);
    }

    private void health(Context ctx) {
        StoreHealth store = orchestrator.storeHealth();
        boolean storeOk = store.ok();
        ObjectNode o = json.createObjectNode();
        o.put("status", storeOk ? "ok" : "degraded");
        o.put("store", storeOk ? "ok" : "error");
        if (!storeOk) {
            o.put("store_problem", store.problem());
            if (store.since() != null) o.put("store_failing_since", store.since().toString());
            o.put("pending_writes", orchestrator.pendingWrites());
            ctx.header("Retry-After", String.valueOf(dev.kiln.core.StoreUnavailableException.RETRY_AFTER_SECONDS));
        }
        o.put("queue_depth", orchestrator.queueDepth());
        o.put("running", orchestrator.runningCount());
        o.put("capacity", orchestrator.capacity());
        ctx.status(storeOk ? 200 : 503);
        send(ctx, o);
    }

    private static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null || v.isEmpty()) return fallback;
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw KilnException.invalid(name, "must be a whole number between " + min + " and " + max + ", got '"
                    + v + "'");
        }
    }

    /** A job as the API shows it: queued jobs also say why they wait, when placement has said so. */
    private ObjectNode view(JobRecord job, boolean full) {
        ObjectNode o = full ? jobJson.render(job) : jobJson.renderSummary(job);
        if (job.status() == JobStatus.QUEUED) o.put("queue_reason", orchestrator.queueReason(job.id()));
        return o;
    }

    private void send(Context ctx, tools.jackson.databind.JsonNode body) {
        ctx.contentType("application/json").result(json.writeValueAsBytes(body));
    }
}
