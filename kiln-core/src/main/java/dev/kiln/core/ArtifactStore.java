package dev.kiln.core;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/** Durable storage for the files jobs write under {@code /output}. */
public interface ArtifactStore {

    /** Moves or copies collected files into the store under the job, replacing any of an earlier attempt. */
    List<Artifact> importArtifacts(String jobId, List<CollectedArtifact> artifacts) throws IOException;

    /** Opens a stored artifact; empty when the job has no artifact of that name. */
    Optional<InputStream> open(String jobId, String name) throws IOException;

    void deleteAll(String jobId) throws IOException;
}
