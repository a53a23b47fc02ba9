package dev.kiln.node.protocol;

import static dev.kiln.json.JsonFields.base64;
import static dev.kiln.json.JsonFields.intMap;
import static dev.kiln.json.JsonFields.integer;
import static dev.kiln.json.JsonFields.longInteger;
import static dev.kiln.json.JsonFields.object;
import static dev.kiln.json.JsonFields.objects;
import static dev.kiln.json.JsonFields.optStrings;
import static dev.kiln.json.JsonFields.optText;
import static dev.kiln.json.JsonFields.stringMap;
import static dev.kiln.json.JsonFields.strings;
import static dev.kiln.json.JsonFields.text;
import static dev.kiln.json.JsonFields.wireValue;

import dev.kiln.core.Artifact;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.OutputLimits;
import dev.kiln.json.JobResultJson;
import dev.kiln.json.JobSpecJson;
import dev.kiln.json.JobTypeJson;
import dev.kiln.json.JsonFieldException;
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
import java.util.LinkedHashSet;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * JSON text of {@link NodeMessage}s, field by field: the wire format changes only when this class does, or the
 * kiln-json mappings it shares with the store ({@link JobSpecJson}, {@link JobTypeJson}, {@link JobResultJson}).
 * Decoding is strict about what it needs and names the field it found wrong (a {@link JsonFieldException} becomes a
 * {@link ProtocolException}); unknown fields are ignored so either side can grow the protocol compatibly.
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
                h.interrupted().forEach(n.putArray("interrupted")::add);
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
                n.put("seq", r.seq());
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
                n.put("resend_ms", w.resendMillis());
            }
            case Execute e -> {
                n.put("type", "execute");
                n.put("seq", e.seq());
                ExecutionRequest r = e.request();
                n.put("execution_id", r.executionId());
                n.put("job_id", r.jobId());
                n.put("attempt", r.attempt());
                n.put("executor", e.executor());
                n.put("timeout_seconds", r.timeoutSeconds());
                n.put("layer_digest", r.layerDigest());
                n.set("spec", JobSpecJson.toTree(r.spec()));
                n.set("job_type", JobTypeJson.toTree(r.jobType()));
                n.set("output_limits", limitsTree(r.outputLimits()));
            }
            case Cancel c -> {
                n.put("type", "cancel");
                n.put("seq", c.seq());
                n.put("execution_id", c.executionId());
            }
            case Ack a -> {
                n.put("type", "ack");
                n.put("seq", a.seq());
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
        try {
            return message(n);
        } catch (JsonFieldException e) {
            throw new ProtocolException(e.getMessage());
        }
    }

    private static NodeMessage message(JsonNode n) {
        String type = text(n, "type");
        return switch (type) {
            case "hello" -> new Hello(integer(n, "protocol"), text(n, "node_id"), optText(n, "token"),
                    stringMap(n, "labels"), integer(n, "slots"), new LinkedHashSet<>(strings(n, "executors")),
                    text(n, "default_executor"), n.path("job_types").isArray() ? strings(n, "job_types") : null,
                    optStrings(n, "holding"), intMap(n, "type_slots"), optStrings(n, "interrupted"));
            case "heartbeat" -> new Heartbeat(integer(n, "free"), integer(n, "running"));
            case "started" -> new Started(text(n, "execution_id"));
            case "result" -> new Result(seq(n), text(n, "execution_id"), object(n, "result", NodeMessageCodec::result));
            case "output" -> new NodeMessage.Output(text(n, "execution_id"), stream(text(n, "stream")),
                    base64(n, "data"));
            case "welcome" -> welcome(n);
            case "execute" -> new Execute(seq(n), new ExecutionRequest(text(n, "execution_id"), text(n, "job_id"),
                    integer(n, "attempt"), object(n, "spec", JobSpecJson::fromTree),
                    object(n, "job_type", JobTypeJson::fromTree), integer(n, "timeout_seconds"),
                    object(n, "output_limits", NodeMessageCodec::limits), optText(n, "layer_digest")),
                    text(n, "executor"));
            case "cancel" -> new Cancel(seq(n), text(n, "execution_id"));
            case "ack" -> new Ack(seq(n));
            case "refused" -> new Refused(text(n, "code"), text(n, "message"));
            default -> throw new JsonFieldException("type", "unknown message type '" + type + "'");
        };
    }

    /** A reliable message's number, or an ack's: positive. */
    private static long seq(JsonNode n) {
        long seq = longInteger(n, "seq");
        if (seq < 1) throw new JsonFieldException("seq", "must be a positive integer, got " + seq);
        return seq;
    }

    private static Welcome welcome(JsonNode n) {
        int heartbeat = integer(n, "heartbeat_ms");
        int resend = integer(n, "resend_ms", 2 * heartbeat); // absent: two heartbeats
        if (resend < 1) throw new JsonFieldException("resend_ms", "must be a positive integer, got " + resend);
        return new Welcome(text(n, "node_id"), optText(n, "session"), heartbeat, integer(n, "lease_ms"),
                optStrings(n, "cancel"), resend);
    }

    // ---- payloads ----

    // A wire result is the stored JobResult's JSON plus the status and each artifact's bytes.
    private ObjectNode resultTree(WireResult r) {
        ObjectNode n = json.createObjectNode().put("status", r.status().wireName());
        List<Artifact> artifacts = r.artifacts().stream().map(a -> new Artifact(a.name(), a.size(), a.sha256()))
                .toList();
        n.setAll(JobResultJson.toTree(new JobResult(r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(),
                r.stderrTruncated(), r.outputJson(), r.error(), r.startupMs(), r.executionMs(), artifacts,
                r.layerDigest())));
        Base64.Encoder base64 = Base64.getEncoder();
        JsonNode artifactTrees = n.get("artifacts");
        for (int i = 0; i < r.artifacts().size(); i++) {
            ((ObjectNode) artifactTrees.get(i)).put("content", base64.encodeToString(r.artifacts().get(i).content()));
        }
        return n;
    }

    private static WireResult result(JsonNode n) {
        JobStatus status = wireValue(n, "status", JobStatus::fromWire);
        if (!status.isTerminal()) {
            throw new JsonFieldException("status", "must be a terminal status, got '" + status.wireName() + "'");
        }
        JobResult r = JobResultJson.fromTree(n);
        if ((status == JobStatus.SUCCEEDED) != (r.error() == null)) {
            throw new JsonFieldException("error", "must be null exactly when the status is succeeded");
        }
        List<byte[]> contents = objects(n, "artifacts", NodeMessageCodec::content);
        List<WireArtifact> artifacts = new ArrayList<>(contents.size());
        for (int i = 0; i < contents.size(); i++) {
            Artifact a = r.artifacts().get(i);
            artifacts.add(new WireArtifact(a.name(), a.size(), a.sha256(), contents.get(i)));
        }
        return new WireResult(status, r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(),
                r.stderrTruncated(), r.outputJson(), r.error(), r.startupMs(), r.executionMs(), artifacts,
                r.layerDigest());
    }

    private static byte[] content(JsonNode artifact) {
        text(artifact, "sha256"); // optional in the store, required here: the receiver checks the bytes against it
        return base64(artifact, "content");
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

    private static OutputLimits limits(JsonNode n) {
        return new OutputLimits(longInteger(n, "max_stdout_bytes"), longInteger(n, "max_stderr_bytes"),
                longInteger(n, "max_output_dir_bytes"), longInteger(n, "max_artifact_bytes"),
                integer(n, "max_artifacts"));
    }

    private static String stream(String s) {
        if (!s.equals("stdout") && !s.equals("stderr")) {
            throw new JsonFieldException("stream", "must be stdout or stderr");
        }
        return s;
    }
}
