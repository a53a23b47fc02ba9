package dev.kiln.client;

import java.util.List;
import tools.jackson.databind.JsonNode;

/** A job as the API returns it (Tako-VM-compatible fields). */
public record JobResponse(String jobId, String status, boolean success, String jobType, JsonNode output,
                          String stdout, String stderr, boolean stdoutTruncated, boolean stderrTruncated,
                          Integer exitCode, Error error, Double executionTime, Timing timing,
                          List<Artifact> artifacts, int attempt, String createdAt, String startedAt,
                          String finishedAt, String nodeId, List<String> constraints, String queueReason,
                          String layerDigest, String namespace, String submittedBy) {

    public record Error(String type, String message, String phase) {
    }

    public record Timing(long queuedMs, long startupMs, long executionMs) {
    }

    public record Artifact(String name, long size, String sha256) {
    }

    public boolean isTerminal() {
        return !status.equals("queued") && !status.equals("running");
    }
}
