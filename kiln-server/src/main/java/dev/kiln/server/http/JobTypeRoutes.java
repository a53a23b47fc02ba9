package dev.kiln.server.http;

import dev.kiln.core.ByteSize;
import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeRegistry;
import dev.kiln.core.KilnException;
import dev.kiln.server.EnvironmentService;
import dev.kiln.server.config.ConfigException;
import dev.kiln.server.config.KilnConfigLoader;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Job types: list, describe, build, register and remove at run time. */
public final class JobTypeRoutes {
    private final JobTypeRegistry registry;
    private final EnvironmentService environments;
    private final JsonMapper json;
    private final long maxBodyBytes;
    private final java.util.function.Supplier<java.util.Set<String>> offeredExecutors;

    public JobTypeRoutes(JobTypeRegistry registry, EnvironmentService environments, JsonMapper json,
                         long maxBodyBytes) {
        this(registry, environments, json, maxBodyBytes, null);
    }

    /**
     * {@code offeredExecutors} (null: no check): the executors the connected nodes offer now; a type naming one
     * none of them offers is refused (unless no node is connected at all, when nothing can be judged).
     */
    public JobTypeRoutes(JobTypeRegistry registry, EnvironmentService environments, JsonMapper json,
                         long maxBodyBytes, java.util.function.Supplier<java.util.Set<String>> offeredExecutors) {
        this.offeredExecutors = offeredExecutors;
        this.registry = registry;
        this.environments = environments;
        this.json = json;
        this.maxBodyBytes = maxBodyBytes;
    }

    public void register(JavalinConfig config) {
        var r = config.routes;
        r.get("/job-types", this::list);
        r.get("/job-types/{name}", ctx -> send(ctx, render(registry.require(ctx.pathParam("name")))));
        r.get("/job-types/{name}/build-log", this::buildLog);
        r.post("/job-types/{name}/build", this::build);
        r.put("/job-types/{name}", this::put);
        r.delete("/job-types/{name}", this::delete);
    }

    private void list(Context ctx) {
        ArrayNode list = json.createArrayNode();
        registry.all().forEach(t -> list.add(render(t)));
        send(ctx, list);
    }

    private void build(Context ctx) {
        RequestBodies.ignore(ctx);
        JobType type = registry.require(ctx.pathParam("name"));
        if ("true".equals(ctx.queryParam("async"))) {
            environments.buildAsync(type);
            ctx.status(202);
            send(ctx, render(type));
            return;
        }
        EnvironmentService.BuildReport report = environments.build(type);
        ObjectNode o = render(type);
        o.put("ran_pip", report.ranPip());
        o.put("build_ms", report.millis());
        o.put("build_log", report.log());
        if (!report.success()) o.put("detail", "build of job type '" + type.name() + "' failed: " + report.error());
        ctx.status(report.success() ? 200 : 422);
        send(ctx, o);
    }

    /** The latest build's log; {@code ?follow=true} streams it until the build ends. */
    private void buildLog(Context ctx) {
        JobType type = registry.require(ctx.pathParam("name"));
        ctx.contentType("text/plain; charset=utf-8");
        if ("true".equals(ctx.queryParam("follow"))) ctx.result(environments.followLog(type));
        else ctx.result(environments.log(type));
    }

    private void put(Context ctx) {
        String name = ctx.pathParam("name");
        JsonNode body;
        try {
            body = json.readTree(RequestBodies.read(ctx, maxBodyBytes));
        } catch (JacksonException e) {
            throw KilnException.invalid("body", "is not valid JSON: " + e.getOriginalMessage());
        }
        if (body == null || !body.isObject()) throw KilnException.invalid("body", "must be a JSON object");
        JobType type;
        try {
            type = KilnConfigLoader.runtimeJobType(name, body);
            environments.validate(type);
        } catch (ConfigException e) {
            throw KilnException.invalid(e.field() == null ? "body" : e.field(), e.reason());
        }
        checkExecutorOffered(type);
        boolean existed = registry.find(name).isPresent();
        registry.register(type);
        ctx.status(existed ? 200 : 201);
        send(ctx, render(type));
    }

    private void checkExecutorOffered(JobType type) {
        if (offeredExecutors == null || type.executor() == null) return;
        java.util.Set<String> offered = offeredExecutors.get();
        if (offered.isEmpty() || offered.contains(type.executor())) return;
        String install = dev.kiln.sandbox.GvisorExecutor.NAME.equals(type.executor())
                ? ": install runsc on a node (apt-get install -y runsc) and start it with --executor gvisor"
                : dev.kiln.sandbox.BwrapExecutor.NAME.equals(type.executor())
                ? ": install bubblewrap on a node (apt-get install -y bubblewrap)" : "";
        throw KilnException.invalid("executor", "no connected node offers executor '" + type.executor()
                + "' (offered: " + new java.util.TreeSet<>(offered) + ")" + install);
    }

    private void delete(Context ctx) {
        registry.remove(ctx.pathParam("name"));
        ctx.status(204);
    }

    private ObjectNode render(JobType t) {
        ObjectNode o = json.createObjectNode();
        o.put("name", t.name());
        o.put("source", registry.source(t.name()).name().toLowerCase(java.util.Locale.ROOT));
        t.packages().requirements().forEach(o.putArray("requirements")::add);
        o.put("python_version", t.packages().pythonVersion());
        o.put("memory_limit", ByteSize.format(t.memoryLimitBytes()));
        o.put("cpu_limit", t.cpuLimit());
        o.put("timeout", t.timeoutSeconds());
        o.put("max_timeout", t.maxTimeoutSeconds());
        if (t.queueTimeoutSeconds() == null) o.putNull("queue_timeout"); else o.put("queue_timeout", t.queueTimeoutSeconds());
        o.put("pids_limit", t.pidsLimit());
        o.put("network_enabled", t.networkEnabled());
        ObjectNode network = o.putObject("network");
        if (t.network().restricted()) t.network().allowTexts().forEach(network.putArray("allow")::add);
        else network.putNull("allow");
        ObjectNode env = o.putObject("environment");
        t.environment().forEach(env::put);
        o.put("executor", t.executor());
        o.put("max_output_bytes", t.maxOutputBytes());
        o.put("tmp_size", ByteSize.format(t.tmpSizeBytes()));
        ObjectNode pool = o.putObject("pool");
        if (t.pool().size() == null) pool.putNull("size"); else pool.put("size", t.pool().size());
        pool.put("refill_concurrency", t.pool().refillConcurrency());
        pool.put("idle_ttl", t.pool().idleTtlSeconds());
        EnvironmentService.Status s = environments.status(t);
        ObjectNode build = o.putObject("build");
        build.put("state", s.state());
        build.put("digest", s.digest());
        build.put("active_digest", s.activeDigest());
        build.put("error", s.error());
        return o;
    }

    private void send(Context ctx, JsonNode body) {
        ctx.contentType("application/json").result(json.writeValueAsBytes(body));
    }
}
