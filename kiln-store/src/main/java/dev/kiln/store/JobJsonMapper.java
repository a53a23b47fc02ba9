package dev.kiln.store;

import dev.kiln.core.Artifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The JSON stored in {@code spec_json} and {@code result_json}. Written field by field (no annotations on the
 * domain records) so the stored format only changes when this class does. Raw JSON texts (input data, output)
 * are stored as JSON strings so they round-trip byte for byte; file contents are base64.
 */
final class JobJsonMapper {
    private final JsonMapper json = JsonMapper.builder().build();

    String specToJson(JobSpec spec) {
        ObjectNode n = json.createObjectNode();
        n.put("code", spec.code());
        n.put("input_data_json", spec.inputDataJson());
        ObjectNode files = n.putObject("files");
        Base64.Encoder base64 = Base64.getEncoder();
        spec.files().forEach((path, bytes) -> files.put(path, base64.encodeToString(bytes)));
        n.put("job_type", spec.jobType());
        n.put("timeout_seconds", spec.timeoutSeconds());
        spec.constraints().forEach(n.putArray("constraints")::add);
        return json.writeValueAsString(n);
    }

    JobSpec specFromJson(String text) {
        JsonNode n = json.readTree(text);
        Map<String, byte[]> files = new LinkedHashMap<>();
        Base64.Decoder base64 = Base64.getDecoder();
        for (var e : n.path("files").properties()) files.put(e.getKey(), base64.decode(e.getValue().stringValue()));
        List<String> constraints = new ArrayList<>();
        for (JsonNode c : n.path("constraints")) constraints.add(c.stringValue());
        return new JobSpec(nullableString(n, "code"), nullableString(n, "input_data_json"), files,
                nullableString(n, "job_type"), nullableInt(n, "timeout_seconds"), constraints);
    }

    String resultToJson(JobResult r) {
        ObjectNode n = json.createObjectNode();
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
        for (Artifact a : r.artifacts()) {
            artifacts.addObject().put("name", a.name()).put("size", a.size()).put("sha256", a.sha256());
        }
        return json.writeValueAsString(n);
    }

    JobResult resultFromJson(String text) {
        JsonNode n = json.readTree(text);
        JsonNode e = n.path("error");
        JobError error = isAbsent(e) ? null
                : new JobError(ErrorType.fromWire(e.get("type").stringValue()), e.get("message").stringValue(),
                        e.get("phase").stringValue());
        List<Artifact> artifacts = new ArrayList<>();
        for (JsonNode a : n.path("artifacts")) {
            artifacts.add(new Artifact(a.get("name").stringValue(), a.get("size").longValue(),
                    nullableString(a, "sha256")));
        }
        return new JobResult(nullableInt(n, "exit_code"), nullableString(n, "stdout"), nullableString(n, "stderr"),
                n.path("stdout_truncated").booleanValue(), n.path("stderr_truncated").booleanValue(),
                nullableString(n, "output_json"), error, n.path("startup_ms").longValue(),
                n.path("execution_ms").longValue(), artifacts, nullableString(n, "layer_digest"));
    }

    private static boolean isAbsent(JsonNode n) {
        return n.isMissingNode() || n.isNull();
    }

    private static String nullableString(JsonNode parent, String field) {
        JsonNode n = parent.path(field);
        return isAbsent(n) ? null : n.stringValue();
    }

    private static Integer nullableInt(JsonNode parent, String field) {
        JsonNode n = parent.path(field);
        return isAbsent(n) ? null : n.intValue();
    }
}
