package dev.kiln.json;

import static dev.kiln.json.JsonFields.base64Map;
import static dev.kiln.json.JsonFields.optInteger;
import static dev.kiln.json.JsonFields.optStrings;
import static dev.kiln.json.JsonFields.optText;

import dev.kiln.core.JobSpec;
import java.util.Base64;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A {@link JobSpec} as JSON: stored in {@code jobs.spec_json} and sent as the {@code spec} of an {@code execute}
 * message, so changing a field here changes both (docs/protocol.md). {@code input_data_json} is the raw JSON text
 * as a string, so it round-trips byte for byte; file contents are base64. {@code constraints} came later: absent
 * reads as none.
 */
public final class JobSpecJson {
    private JobSpecJson() {
    }

    public static ObjectNode toTree(JobSpec spec) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("code", spec.code());
        n.put("input_data_json", spec.inputDataJson());
        ObjectNode files = n.putObject("files");
        Base64.Encoder base64 = Base64.getEncoder();
        spec.files().forEach((path, bytes) -> files.put(path, base64.encodeToString(bytes)));
        n.put("job_type", spec.jobType());
        n.put("timeout_seconds", spec.timeoutSeconds());
        spec.constraints().forEach(n.putArray("constraints")::add);
        if (spec.queueTimeoutSeconds() != null) n.put("queue_timeout_seconds", spec.queueTimeoutSeconds());
        return n;
    }

    public static JobSpec fromTree(JsonNode n) {
        return new JobSpec(optText(n, "code"), optText(n, "input_data_json"), base64Map(n, "files"),
                optText(n, "job_type"), optInteger(n, "timeout_seconds"), optStrings(n, "constraints"),
                optInteger(n, "queue_timeout_seconds"));
    }
}
