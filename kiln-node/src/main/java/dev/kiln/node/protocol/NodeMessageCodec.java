package dev.kiln.node.protocol;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobError;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.node.protocol.WireResult.WireArtifact;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * JSON text of {@link NodeMessage}s, field by field (the wire format changes only when this class does). Decoding
 * is strict about what it needs and names the field it found wrong; unknown fields are ignored so either side can
 * grow the protocol compatibly.
 */
public final class NodeMessageCodec {
    private final JsonMapper json = JsonMapper.builder().build();

    public String encode(NodeMessage message) {
        return json.writeValueAsString(toTree(message));
    }

    /** A JSON array of messages (the long-poll transport's bodies). */
    public String encodeAll(List<? extends NodeMessage> messages) {
        ArrayNode a = json.createArrayNode();
        messages.forEach(m -> a.add(toTree(m)));
        return json.writeValueAsString(a);
    }

    public NodeMessage decode(String text) {
        return fromTree(parse(text));
    }

    public List<NodeMessage> decodeAll(String text) {
        JsonNode n = parse(text);
        if (!n.isArray()) throw new ProtocolException("expected a JSON array of messages");
        List<NodeMessage> out = new ArrayList<>(n.size());
        for (JsonNode m : n) out.add(fromTree(m));
        return out;
    }

    private JsonNode parse(String text) {
        try {
            return json.readTree(text);
        } catch (JacksonException e) {
            throw new ProtocolException("not valid JSON: " + e.getOriginalMessage());
        }
    }

    private ObjectNode toTree(NodeMessage message) {
        ObjectNode n = json.createObjectNode();
        switch (message) {
            case Hello h -> {
                n.put("type", "hello");
                n.put("protocol", h.protocol());
                n.put("node_id", h.nodeId());
                n.put("token", h.token());
                ObjectNode labels = n.putObject("labels");
                h.labels().forEach(labels::put);
                n.put("slots", h.slots());
                h.executors().stream().sorted().forEach(n.putArray("executors")::add);
                n.put("default_executor", h.defaultExecutor());
                if (h.jobTypes() == null) n.putNull("job_types"); else h.jobTypes().forEach(n.putArray("job_types")::add);
                h.holding().forEach(n.putArray("holding")::add);
                ObjectNode typeSlots = n.putObject("type_slots");
                h.typeSlots().forEach(typeSlots::put);
            }
            case Heartbeat h -> {
                n.put("type", "heartbeat");
                n.put("free", h.free());
                n.put("running", h.running());
            }
            case Started s -> {
                n.put("type", "started");
                n.put("execution_id", s.executionId());
            }
            case NodeMessage.Output o -> {
                n.put("type", "output");
                n.put("execution_id", o.executionId());
                n.put("stream", o.stream());
                n.put("data", Base64.getEncoder().encodeToString(o.data()));
            }
            case Result r -> {
                n.put("type", "result");
                n.put("execution_id", r.executionId());
                n.set("result", resultTree(r.result()));
            }
            case Welcome w -> {
                n.put("type", "welcome");
                n.put("node_id", w.nodeId());
                n.put("session", w.session());
                n.put("heartbeat_ms", w.heartbeatMillis());
                n.put("lease_ms", w.leaseMillis());
                w.cancel().forEach(n.putArray("cancel")::add);
            }
            case Execute e -> {
                n.put("type", "execute");
                ExecutionRequest r = e.request();
                n.put("execution_id", r.executionId());
                n.put("job_id", r.jobId());
                n.put("attempt", r.attempt());
                n.put("executor", e.executor());
                n.put("timeout_seconds", r.timeoutSeconds());
                n.put("layer_digest", r.layerDigest());
                n.set("spec", specTree(r.spec()));
                n.set("job_type", jobTypeTree(r.jobType()));
                n.set("output_limits", limitsTree(r.outputLimits()));
            }
            case Cancel c -> {
                n.put("type", "cancel");
                n.put("execution_id", c.executionId());
            }
            case Ack a -> {
                n.put("type", "ack");
                n.put("execution_id", a.executionId());
            }
            case Refused r -> {
                n.put("type", "refused");
                n.put("code", r.code());
                n.put("message", r.message());
            }
        }
        return n;
    }

    private NodeMessage fromTree(JsonNode n) {
        if (!n.isObject()) throw new ProtocolException("a message must be a JSON object");
        String type = text(n, "type");
        return switch (type) {
            case "hello" -> new Hello(integer(n, "protocol"), text(n, "node_id"), optText(n, "token"),
                    stringMap(n, "labels"), integer(n, "slots"), new LinkedHashSet<>(strings(n, "executors")),
                    text(n, "default_executor"), n.path("job_types").isArray() ? strings(n, "job_types") : null,
                    n.has("holding") ? strings(n, "holding") : List.of(), intMap(n, "type_slots"));
            case "heartbeat" -> new Heartbeat(integer(n, "free"), integer(n, "running"));
            case "started" -> new Started(text(n, "execution_id"));
            case "result" -> new Result(text(n, "execution_id"), result(object(n, "result")));
            case "output" -> new NodeMessage.Output(text(n, "execution_id"), stream(text(n, "stream")),
                    base64(text(n, "data"), "data"));
            case "welcome" -> new Welcome(text(n, "node_id"), optText(n, "session"), integer(n, "heartbeat_ms"),
                    integer(n, "lease_ms"), n.has("cancel") ? strings(n, "cancel") : List.of());
            case "execute" -> new Execute(new ExecutionRequest(text(n, "execution_id"), text(n, "job_id"),
                    integer(n, "attempt"), spec(object(n, "spec")), jobType(object(n, "job_type")),
                    integer(n, "timeout_seconds"), limits(object(n, "output_limits")), optText(n, "layer_digest")),
                    text(n, "executor"));
            case "cancel" -> new Cancel(text(n, "execution_id"));
            case "ack" -> new Ack(text(n, "execution_id"));
            case "refused" -> new Refused(text(n, "code"), text(n, "message"));
            default -> throw new ProtocolException("type: unknown message type '" + type + "'");
        };
    }

    // ---- payloads ----

    private ObjectNode resultTree(WireResult r) {
        ObjectNode n = json.createObjectNode();
        n.put("status", r.status().wireName());
        n.put("exit_code", r.exitCode());
        n.put("stdout", r.stdout());
        n.put("stderr", r.stderr());
        n.put("stdout_truncated", r.stdoutTruncated());
        n.put("stderr_truncated", r.stderrTruncated());
        n.put("output_json", r.outputJson());
        if (r.error() == null) {
            n.putNull("error");
        } else {
            ObjectNode e = n.putObject("error");
            e.put("type", r.error().type().wireName());
            e.put("message", r.error().message());
            e.put("phase", r.error().phase());
        }
        n.put("startup_ms", r.startupMs());
        n.put("execution_ms", r.executionMs());
        n.put("layer_digest", r.layerDigest());
        ArrayNode artifacts = n.putArray("artifacts");
        Base64.Encoder base64 = Base64.getEncoder();
        for (WireArtifact a : r.artifacts()) {
            ObjectNode o = artifacts.addObject();
            o.put("name", a.name());
            o.put("size", a.size());
            o.put("sha256", a.sha256());
            o.put("content", base64.encodeToString(a.content()));
        }
        return n;
    }

    private WireResult result(JsonNode n) {
        JobStatus status = enumValue(() -> JobStatus.fromWire(text(n, "status")), "result.status");
        if (!status.isTerminal()) {
            throw new ProtocolException("result.status: must be a terminal status, got '" + text(n, "status") + "'");
        }
        JobError error = null;
        if (n.path("error").isObject()) {
            JsonNode e = n.get("error");
            ErrorType type = enumValue(() -> ErrorType.fromWire(text(e, "type")), "result.error.type");
            error = new JobError(type, text(e, "message"), text(e, "phase"));
        }
        if ((status == JobStatus.SUCCEEDED) != (error == null)) {
            throw new ProtocolException("result.error: must be null exactly when the status is succeeded");
        }
        List<WireArtifact> artifacts = new ArrayList<>();
        Base64.Decoder base64 = Base64.getDecoder();
        for (JsonNode a : n.path("artifacts")) {
            byte[] content;
            try {
                content = base64.decode(text(a, "content"));
            } catch (IllegalArgumentException e) {
                throw new ProtocolException("result.artifacts[].content: not base64");
            }
            artifacts.add(new WireArtifact(text(a, "name"), a.path("size").asLong(-1), text(a, "sha256"), content));
        }
        return new WireResult(status, n.path("exit_code").isInt() ? n.get("exit_code").intValue() : null,
                optText(n, "stdout"), optText(n, "stderr"), n.path("stdout_truncated").asBoolean(false),
                n.path("stderr_truncated").asBoolean(false), optText(n, "output_json"), error,
                n.path("startup_ms").asLong(0), n.path("execution_ms").asLong(0), artifacts,
                optText(n, "layer_digest"));
    }

    private ObjectNode specTree(JobSpec spec) {
        ObjectNode n = json.createObjectNode();
        n.put("code", spec.code());
        n.put("input_data_json", spec.inputDataJson());
        ObjectNode files = n.putObject("files");
        Base64.Encoder base64 = Base64.getEncoder();
        spec.files().forEach((path, bytes) -> files.put(path, base64.encodeToString(bytes)));
        n.put("job_type", spec.jobType());
        n.put("timeout_seconds", spec.timeoutSeconds());
        spec.constraints().forEach(n.putArray("constraints")::add);
        return n;
    }

    private JobSpec spec(JsonNode n) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        Base64.Decoder base64 = Base64.getDecoder();
        for (var e : n.path("files").properties()) files.put(e.getKey(), base64.decode(e.getValue().stringValue()));
        return new JobSpec(optText(n, "code"), optText(n, "input_data_json"), files, optText(n, "job_type"),
                n.path("timeout_seconds").isInt() ? n.get("timeout_seconds").intValue() : null,
                n.has("constraints") ? strings(n, "constraints") : List.of());
    }

    private ObjectNode jobTypeTree(JobType t) {
        ObjectNode n = json.createObjectNode();
        n.put("name", t.name());
        n.put("memory_limit_bytes", t.memoryLimitBytes());
        n.put("cpu_limit", t.cpuLimit());
        n.put("timeout", t.timeoutSeconds());
        n.put("max_timeout", t.maxTimeoutSeconds());
        n.put("pids_limit", t.pidsLimit());
        n.put("network_enabled", t.networkEnabled());
        ObjectNode env = n.putObject("environment");
        t.environment().forEach(env::put);
        n.put("executor", t.executor());
        n.put("max_output_bytes", t.maxOutputBytes());
        n.put("tmp_size_bytes", t.tmpSizeBytes());
        n.put("python_version", t.packages().pythonVersion());
        t.packages().requirements().forEach(n.putArray("requirements")::add);
        t.packages().sharedCode().forEach(n.putArray("shared_code")::add);
        if (t.pool().size() == null) n.putNull("pool_size"); else n.put("pool_size", t.pool().size());
        n.put("pool_refill_concurrency", t.pool().refillConcurrency());
        n.put("pool_idle_ttl", t.pool().idleTtlSeconds());
        return n;
    }

    private JobType jobType(JsonNode n) {
        return new JobType(text(n, "name"), n.path("memory_limit_bytes").asLong(), n.path("cpu_limit").asDouble(),
                integer(n, "timeout"), integer(n, "max_timeout"), integer(n, "pids_limit"),
                n.path("network_enabled").asBoolean(false), stringMap(n, "environment"), optText(n, "executor"),
                n.path("max_output_bytes").asLong(), n.path("tmp_size_bytes").asLong(),
                new PackageSpec(optText(n, "python_version"),
                        n.has("requirements") ? strings(n, "requirements") : List.of(),
                        n.has("shared_code") ? strings(n, "shared_code") : List.of()),
                new WarmPoolSpec(n.path("pool_size").isInt() ? n.get("pool_size").intValue() : null,
                        n.path("pool_refill_concurrency").asInt(WarmPoolSpec.DEFAULT.refillConcurrency()),
                        n.path("pool_idle_ttl").asInt(WarmPoolSpec.DEFAULT.idleTtlSeconds())));
    }

    private ObjectNode limitsTree(OutputLimits l) {
        ObjectNode n = json.createObjectNode();
        n.put("max_stdout_bytes", l.maxStdoutBytes());
        n.put("max_stderr_bytes", l.maxStderrBytes());
        n.put("max_output_dir_bytes", l.maxOutputDirBytes());
        n.put("max_artifact_bytes", l.maxArtifactBytes());
        n.put("max_artifacts", l.maxArtifacts());
        return n;
    }

    private OutputLimits limits(JsonNode n) {
        return new OutputLimits(n.path("max_stdout_bytes").asLong(), n.path("max_stderr_bytes").asLong(),
                n.path("max_output_dir_bytes").asLong(), n.path("max_artifact_bytes").asLong(),
                integer(n, "max_artifacts"));
    }

    // ---- field access that names the field ----

    private static String stream(String s) {
        if (!s.equals("stdout") && !s.equals("stderr")) throw new ProtocolException("stream: must be stdout or stderr");
        return s;
    }

    private static byte[] base64(String s, String field) {
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(field + ": not base64");
        }
    }

    private static <T> T enumValue(java.util.function.Supplier<T> parse, String field) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(field + ": unknown value");
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isString()) throw new ProtocolException(field + ": required string");
        return v.stringValue();
    }

    private static String optText(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isString()) throw new ProtocolException(field + ": must be a string");
        return v.stringValue();
    }

    private static int integer(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isInt()) throw new ProtocolException(field + ": required integer");
        return v.intValue();
    }

    private static JsonNode object(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isObject()) throw new ProtocolException(field + ": required object");
        return v;
    }

    private static List<String> strings(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isArray()) throw new ProtocolException(field + ": required array of strings");
        List<String> out = new ArrayList<>(v.size());
        for (JsonNode s : v) {
            if (!s.isString()) throw new ProtocolException(field + ": must hold only strings");
            out.add(s.stringValue());
        }
        return out;
    }

    private static Map<String, Integer> intMap(JsonNode n, String field) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (var e : n.path(field).properties()) {
            if (!e.getValue().isInt()) throw new ProtocolException(field + "." + e.getKey() + ": must be an integer");
            out.put(e.getKey(), e.getValue().intValue());
        }
        return out;
    }

    private static Map<String, String> stringMap(JsonNode n, String field) {
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : n.path(field).properties()) {
            if (!e.getValue().isString()) throw new ProtocolException(field + "." + e.getKey() + ": must be a string");
            out.put(e.getKey(), e.getValue().stringValue());
        }
        return out;
    }
}
