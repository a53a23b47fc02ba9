package dev.kiln.json;

import static dev.kiln.json.JsonFields.bool;
import static dev.kiln.json.JsonFields.longInteger;
import static dev.kiln.json.JsonFields.objects;
import static dev.kiln.json.JsonFields.optInteger;
import static dev.kiln.json.JsonFields.optObject;
import static dev.kiln.json.JsonFields.optText;
import static dev.kiln.json.JsonFields.text;
import static dev.kiln.json.JsonFields.wireValue;

import dev.kiln.core.Artifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobResult;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A {@link JobResult} as JSON: stored in {@code jobs.result_json}, and the body of a node's {@code result} message,
 * which adds {@code status} and each artifact's {@code content} (docs/protocol.md). Raw output JSON stays a string
 * so it round-trips byte for byte. {@code layer_digest} came later: absent reads as null.
 */
public final class JobResultJson {
    private JobResultJson() {
    }

    public static ObjectNode toTree(JobResult r) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("exit_code", r.exitCode());
        n.put("stdout", r.stdout());
        n.put("stderr", r.stderr());
        n.put("stdout_truncated", r.stdoutTruncated());
        n.put("stderr_truncated", r.stderrTruncated());
        n.put("output_json", r.outputJson());
        if (r.error() == null) {
            n.putNull("error");
        } else {
            n.putObject("error").put("type", r.error().type().wireName()).put("message", r.error().message())
                    .put("phase", r.error().phase());
        }
        n.put("startup_ms", r.startupMs());
        n.put("execution_ms", r.executionMs());
        n.put("layer_digest", r.layerDigest());
        ArrayNode artifacts = n.putArray("artifacts");
        for (Artifact a : r.artifacts()) {
            artifacts.addObject().put("name", a.name()).put("size", a.size()).put("sha256", a.sha256());
        }
        return n;
    }

    public static JobResult fromTree(JsonNode n) {
        return new JobResult(optInteger(n, "exit_code"), optText(n, "stdout"), optText(n, "stderr"),
                bool(n, "stdout_truncated", false), bool(n, "stderr_truncated", false), optText(n, "output_json"),
                optObject(n, "error", JobResultJson::error), longInteger(n, "startup_ms", 0),
                longInteger(n, "execution_ms", 0), objects(n, "artifacts", JobResultJson::artifact),
                optText(n, "layer_digest"));
    }

    private static JobError error(JsonNode e) {
        return new JobError(wireValue(e, "type", ErrorType::fromWire), text(e, "message"), text(e, "phase"));
    }

    private static Artifact artifact(JsonNode a) {
        return new Artifact(text(a, "name"), longInteger(a, "size"), optText(a, "sha256"));
    }
}
