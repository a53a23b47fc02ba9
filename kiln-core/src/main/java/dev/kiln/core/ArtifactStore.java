package dev.kiln.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * Durable storage for the files jobs write under {@code /output}, kept under a key: the execution that wrote them
 * ({@code <job id>-<attempt>}; jobs stored before executions were rows: the job id). The job's result names the
 * execution whose files it publishes, so a losing result's files are never seen and are removed.
 */
public interface ArtifactStore {

    /** Moves or copies collected files into the store under the job, replacing any of an earlier attempt. */
    List<Artifact> importArtifacts(String jobId, List<CollectedArtifact> artifacts) throws IOException;

    /** Opens a stored artifact; empty when the job has no artifact of that name. */
    Optional<InputStream> open(String jobId, String name) throws IOException;

    void deleteAll(String jobId) throws IOException;
}
