package dev.kiln.node.protocol;

import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import java.util.List;

/**
 * An execution result as it travels from a node: like {@link dev.kiln.core.ExecutionResult}, but artifacts carry
 * their bytes. {@code layerDigest} is the layer the node ran it on (null: none).
 */
public record WireResult(JobStatus status, Integer exitCode, String stdout, String stderr, boolean stdoutTruncated,
                         boolean stderrTruncated, String outputJson, JobError error, long startupMs, long executionMs,
                         List<WireArtifact> artifacts, String layerDigest) {
    public WireResult {
        artifacts = List.copyOf(artifacts);
    }

    /** An artifact with its content; receivers check {@code size} and {@code sha256} against the bytes. */
    public record WireArtifact(String name, long size, String sha256, byte[] content) {
    }
}
