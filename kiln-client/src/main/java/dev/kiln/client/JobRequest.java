package dev.kiln.client;

import java.util.Map;

/**
 * A job to run. {@code inputData} is any JSON-serialisable value (written to /input/data.json); {@code files} maps
 * a relative path under /input to its bytes (sent base64-encoded).
 */
public record JobRequest(String code, Object inputData, String jobType, Integer timeout, Map<String, byte[]> files,
                         String idempotencyKey, java.util.List<String> constraints) {
    public static JobRequest python(String code) {
        return new JobRequest(code, null, null, null, Map.of(), null, java.util.List.of());
    }

    /** Node label constraints: {@code key=value}, {@code key!=value}, {@code key in (a,b)}, {@code key exists}. */
    public JobRequest withConstraints(String... c) {
        return new JobRequest(code, inputData, jobType, timeout, files, idempotencyKey, java.util.List.of(c));
    }

    public JobRequest withInputData(Object data) {
        return new JobRequest(code, data, jobType, timeout, files, idempotencyKey, constraints);
    }

    public JobRequest withJobType(String type) {
        return new JobRequest(code, inputData, type, timeout, files, idempotencyKey, constraints);
    }

    public JobRequest withTimeout(Integer seconds) {
        return new JobRequest(code, inputData, jobType, seconds, files, idempotencyKey, constraints);
    }

    public JobRequest withFiles(Map<String, byte[]> f) {
        return new JobRequest(code, inputData, jobType, timeout, f, idempotencyKey, constraints);
    }

    public JobRequest withIdempotencyKey(String key) {
        return new JobRequest(code, inputData, jobType, timeout, files, key, constraints);
    }
}
