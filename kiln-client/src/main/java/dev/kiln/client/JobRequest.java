package dev.kiln.client;

import java.util.Map;

/**
 * A job to run. {@code inputData} is any JSON-serialisable value (written to /input/data.json); {@code files} maps
 * a relative path under /input to its bytes (sent base64-encoded); {@code queueTimeout} (seconds, null: the job
 * type's or server's) how long it may wait for a node.
 */
public record JobRequest(String code, Object inputData, String jobType, Integer timeout, Map<String, byte[]> files,
                         String idempotencyKey, java.util.List<String> constraints, Integer queueTimeout) {
    public JobRequest(String code, Object inputData, String jobType, Integer timeout, Map<String, byte[]> files,
                      String idempotencyKey, java.util.List<String> constraints) {
        this(code, inputData, jobType, timeout, files, idempotencyKey, constraints, null);
    }

    public JobRequest withQueueTimeout(Integer seconds) {
        return new JobRequest(code, inputData, jobType, timeout, files, idempotencyKey, constraints, seconds);
    }

    public static JobRequest python(String code) {
        return new JobRequest(code, null, null, null, Map.of(), null, java.util.List.of());
    }

    /** Node label constraints: {@code key=value}, {@code key!=value}, {@code key in (a,b)}, {@code key exists}. */
    public JobRequest withConstraints(String... c) {
        return new JobRequest(code, inputData, jobType, timeout, files, idempotencyKey, java.util.List.of(c),
                queueTimeout);
    }

    public JobRequest withInputData(Object data) {
        return new JobRequest(code, data, jobType, timeout, files, idempotencyKey, constraints, queueTimeout);
    }

    public JobRequest withJobType(String type) {
        return new JobRequest(code, inputData, type, timeout, files, idempotencyKey, constraints, queueTimeout);
    }

    public JobRequest withTimeout(Integer seconds) {
        return new JobRequest(code, inputData, jobType, seconds, files, idempotencyKey, constraints, queueTimeout);
    }

    public JobRequest withFiles(Map<String, byte[]> f) {
        return new JobRequest(code, inputData, jobType, timeout, f, idempotencyKey, constraints, queueTimeout);
    }

    public JobRequest withIdempotencyKey(String key) {
        return new JobRequest(code, inputData, jobType, timeout, files, key, constraints, queueTimeout);
    }
}
