package dev.kiln.server.http;

import dev.kiln.core.Artifact;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.JobError;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import java.time.Duration;
import java.time.Instant;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Renders a job in the Tako-VM-compatible response shape. */
public final class JobJson {
    private final JsonMapper json;

    public JobJson(JsonMapper json) {
        this.json = json;
    }

    public ObjectNode render(JobRecord job) {
        return render(job, true);
    }

    /** For listings: without output, stdout and stderr, which can be large (fetch the job for them). */
    ObjectNode renderSummary(JobRecord job) {
        return render(job, false);
    }

    private ObjectNode render(JobRecord job, boolean full) {
        ObjectNode o = json.createObjectNode();
        JobResult r = job.result();
        o.put("job_id", job.id());
        o.put("status", job.status().wireName());
        o.put("namespace", job.namespace());
        if (job.submittedBy() == null) o.putNull("submitted_by"); else o.put("submitted_by", job.submittedBy());
        o.put("success", job.status() == JobStatus.SUCCEEDED);
        o.put("job_type", job.spec().jobType());
        o.put("layer_digest", r == null ? null : r.layerDigest());
        if (full) {
            o.set("output", r == null ? null : parseOutput(r.outputJson()));
            o.put("stdout", r == null ? "" : r.stdout());
            o.put("stderr", r == null ? "" : r.stderr());
        }
        o.put("stdout_truncated", r != null && r.stdoutTruncated());
        o.put("stderr_truncated", r != null && r.stderrTruncated());
        if (r == null || r.exitCode() == null) o.putNull("exit_code"); else o.put("exit_code", r.exitCode());
        o.set("error", r == null || r.error() == null ? null : error(r.error()));
        if (r == null) o.putNull("execution_time"); else o.put("execution_time", r.executionMs() / 1000.0);
        ObjectNode timing = o.putObject("timing");
        long queuedMs = job.startedAt() == null ? millisSince(job.createdAt(), job.finishedAt())
                : Duration.between(job.createdAt(), job.startedAt()).toMillis();
        timing.put("queued_ms", Math.max(0, queuedMs));
        timing.put("startup_ms", r == null ? 0 : r.startupMs());
        timing.put("execution_ms", r == null ? 0 : r.executionMs());
        ArrayNode arts = o.putArray("artifacts");
        if (r != null) {
            for (Artifact a : r.artifacts()) {
                arts.addObject().put("name", a.name()).put("size", a.size()).put("sha256", a.sha256());
            }
        }
        o.put("attempt", job.attempt());
        o.put("node_id", job.nodeId());
        job.spec().constraints().forEach(o.putArray("constraints")::add);
        o.put("created_at", job.createdAt().toString());
        o.put("started_at", job.startedAt() == null ? null : job.startedAt().toString());
        o.put("finished_at", job.finishedAt() == null ? null : job.finishedAt().toString());
        return o;
    }

    /** One attempt, as {@code GET /jobs/{id}/executions} lists it (Bacalhau's {@code job executions}). */
    ObjectNode render(ExecutionRecord e) {
        ObjectNode o = json.createObjectNode();
        o.put("execution_id", e.id());
        o.put("job_id", e.jobId());
        o.put("attempt", e.attempt());
        o.put("node_id", e.nodeId());
        o.put("status", e.status().wireName());
        o.put("started_at", e.startedAt().toString());
        o.put("deadline_at", e.deadlineAt() == null ? null : e.deadlineAt().toString());
        o.put("lease_expires_at", e.leaseExpiresAt() == null ? null : e.leaseExpiresAt().toString());
        o.put("finished_at", e.finishedAt() == null ? null : e.finishedAt().toString());
        if (e.finishedAt() == null) o.putNull("duration_ms");
        else o.put("duration_ms", Duration.between(e.startedAt(), e.finishedAt()).toMillis());
        if (e.exitCode() == null) o.putNull("exit_code"); else o.put("exit_code", e.exitCode());
        o.put("cancel_requested", e.cancelRequested());
        o.set("error", e.error() == null ? null : error(e.error()));
        return o;
    }

    private static long millisSince(Instant from, Instant to) {
        return Duration.between(from, to == null ? Instant.now() : to).toMillis();
    }

    private ObjectNode error(JobError e) {
        return json.createObjectNode().put("type", e.type().wireName()).put("message", e.message())
                .put("phase", e.phase());
    }

    /** result.json is hostile input: anything that is not valid JSON shows as null. */
    private JsonNode parseOutput(String raw) {
        if (raw == null) return null;
        try {
            return json.readTree(raw);
        } catch (JacksonException e) {
            return null;
        }
    }
}
