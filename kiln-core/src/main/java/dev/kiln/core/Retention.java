package dev.kiln.core;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes finished jobs older than the retention age, with their executions, idempotency keys and artifacts, in
 * batches; never a job that has not ended. Run by the housekeeping leader, and at once by {@code kiln gc}.
 */
final class Retention {
    private static final Logger log = LoggerFactory.getLogger(Retention.class);
    private static final int BATCH = 500;

    private final JobStore store;
    private final ArtifactStore artifacts;

    Retention(JobStore store, ArtifactStore artifacts) {
        this.store = store;
        this.artifacts = artifacts;
    }

    /** Deletes every terminal job that finished before {@code cutoff}; returns how many. */
    int purge(Instant cutoff) {
        int total = 0;
        while (true) {
            List<JobStore.Purged> batch = store.deleteFinishedBefore(cutoff, BATCH);
            for (JobStore.Purged p : batch) deleteArtifacts(p);
            total += batch.size();
            if (batch.size() < BATCH) break;
        }
        if (total > 0) log.info("retention: deleted {} job(s) finished before {}", total, cutoff);
        return total;
    }

    /** Artifacts live under each execution (and, for jobs stored before that, under the job). */
    private void deleteArtifacts(JobStore.Purged p) {
        try {
            artifacts.deleteAll(p.jobId());
            for (int attempt = 1; attempt <= p.attempts(); attempt++) {
                artifacts.deleteAll(ExecutionRequest.executionId(p.jobId(), attempt));
            }
        } catch (IOException | RuntimeException e) {
            log.warn("retention: could not delete the artifacts of job {}: {}", p.jobId(), e.toString());
        }
    }
}
