package dev.kiln.core;

import java.nio.file.Path;

/**
 * An artifact read back from a sandbox's {@code /output} into node-local storage ({@code file}), already
 * validated and size-capped. The orchestrator imports it into its artifact store before recording the result;
 * the node deletes {@code file} once the result has been delivered.
 */
public record CollectedArtifact(String name, long size, String sha256, Path file) {
    public Artifact toArtifact() {
        return new Artifact(name, size, sha256);
    }
}
