package dev.kiln.server.http;

import dev.kiln.core.JobSpec;
import dev.kiln.core.KilnException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Turns a request body into a {@link JobSpec}. Every refusal names the field. {@code files} values are either a
 * UTF-8 string or {@code {"content": "...", "encoding": "base64"|"utf-8"}}.
 */
public final class JobRequestParser {
    public record Parsed(JobSpec spec, String idempotencyKey) {
    }

    private static final Set<String> FIELDS = Set.of("code", "input_data", "job_type", "timeout", "files",
            "idempotency_key", "constraints", "queue_timeout");
    /** The longest a job may ask to wait for a node: a week. */
    public static final int MAX_QUEUE_TIMEOUT = 7 * 24 * 3600;

    private final JsonMapper json;

    public JobRequestParser(JsonMapper json) {
        this.json = json;
    }

    public Parsed parse(byte[] body, boolean allowIdempotencyKey) {
        JsonNode root;
        try {
            root = json.readTree(body);
        } catch (JacksonException e) {
            throw KilnException.invalid("body", "is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw KilnException.invalid("body", "must be a JSON object");
        for (String name : root.propertyNames()) {
            if (!FIELDS.contains(name) || (!allowIdempotencyKey && name.equals("idempotency_key"))) {
                throw KilnException.invalid(name, "unknown field");
            }
        }
        String code = requiredString(root, "code");
        String input = root.has("input_data") && !root.get("input_data").isNull()
                ? json.writeValueAsString(sorted(root.get("input_data"))) : null;
        String jobType = optionalString(root, "job_type");
        Integer timeout = seconds(root, "timeout", Integer.MAX_VALUE);
        Integer queueTimeout = seconds(root, "queue_timeout", MAX_QUEUE_TIMEOUT);
        Map<String, byte[]> files = files(root);
        String key = allowIdempotencyKey ? optionalString(root, "idempotency_key") : null;
        return new Parsed(new JobSpec(code, input, files, jobType, timeout, constraints(root), queueTimeout),
                key);
    }

    /**
     * input_data with every object's keys in order: the same data sent with keys in another order is the same
     * request (idempotency keys compare bodies), and /input/data.json is the same file.
     */
    private JsonNode sorted(JsonNode n) {
        if (n.isObject()) {
            tools.jackson.databind.node.ObjectNode o = json.createObjectNode();
            n.propertyNames().stream().sorted().forEach(k -> o.set(k, sorted(n.get(k))));
            return o;
        }
        if (n.isArray()) {
            tools.jackson.databind.node.ArrayNode a = json.createArrayNode();
            n.forEach(e -> a.add(sorted(e)));
            return a;
        }
        return n;
    }

    private static String requiredString(JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) throw KilnException.invalid(field, "is required");
        if (!v.isString()) throw KilnException.invalid(field, "must be a string");
        return v.asString();
    }

    private static String optionalString(JsonNode root, String field) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isString()) throw KilnException.invalid(field, "must be a string");
        return v.asString();
    }

    private static Integer seconds(JsonNode root, String field, int max) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return null;
        double d = v.isNumber() ? v.asDouble() : 0;
        if (!v.isNumber() || d != Math.floor(d) || d < 1 || d > max) {
            throw KilnException.invalid(field, "must be a whole number of seconds from 1 to " + max + ", got "
                    + v.asString());
        }
        return (int) d;
    }

    private static java.util.List<String> constraints(JsonNode root) {
        JsonNode v = root.get("constraints");
        if (v == null || v.isNull()) return java.util.List.of();
        if (!v.isArray()) throw KilnException.invalid("constraints", "must be a list of strings like \"gpu=true\"");
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isString()) throw KilnException.invalid("constraints[" + i + "]", "must be a string");
            out.add(v.get(i).asString());
        }
        return out;
    }

    private static Map<String, byte[]> files(JsonNode root) {
        JsonNode v = root.get("files");
        if (v == null || v.isNull()) return Map.of();
        if (!v.isObject()) throw KilnException.invalid("files", "must be an object of path -> content");
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (var e : v.properties()) {
            String field = "files[" + e.getKey() + "]";
            JsonNode c = e.getValue();
            if (c.isString()) {
                files.put(e.getKey(), c.asString().getBytes(StandardCharsets.UTF_8));
            } else if (c.isObject() && c.has("content") && c.get("content").isString()) {
                String encoding = c.has("encoding") ? c.get("encoding").asString() : "utf-8";
                String content = c.get("content").asString();
                files.put(e.getKey(), switch (encoding) {
                    case "base64" -> decodeBase64(field, content);
                    case "utf-8", "utf8" -> content.getBytes(StandardCharsets.UTF_8);
                    default -> throw KilnException.invalid(field + ".encoding", "must be base64 or utf-8");
                });
            } else {
                throw KilnException.invalid(field, "must be a string or {\"content\": ..., \"encoding\": ...}");
            }
        }
        return files;
    }

    private static byte[] decodeBase64(String field, String content) {
        try {
            // Strict alphabet; line breaks (as in MIME-wrapped base64) are tolerated.
            return Base64.getDecoder().decode(content.replaceAll("[\\r\\n]", ""));
        } catch (IllegalArgumentException e) {
            throw KilnException.invalid(field, "is not valid base64: " + e.getMessage());
        }
    }
}
