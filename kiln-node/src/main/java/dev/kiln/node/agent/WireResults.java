package dev.kiln.node.agent;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.node.protocol.WireResult;
import dev.kiln.node.protocol.WireResult.WireArtifact;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/** Execution results as they leave a node. */
final class WireResults {
    private WireResults() {
    }

    /**
     * The result with each artifact's bytes read in. Must run before the result listener returns: the node deletes
     * the artifact files right after. An artifact that cannot be read fails the execution in the output phase (its
     * stdout and stderr are kept).
     */
    static WireResult from(ExecutionResult r, String layerDigest) {
        List<WireArtifact> artifacts = new ArrayList<>();
        for (CollectedArtifact a : r.artifacts()) {
            try {
                artifacts.add(new WireArtifact(a.name(), a.size(), a.sha256(), Files.readAllBytes(a.file())));
            } catch (IOException e) {
                JobError error = new JobError(ErrorType.SANDBOX_ERROR, "the node could not read artifact '" + a.name()
                        + "': " + e, JobError.PHASE_OUTPUT);
                return new WireResult(JobStatus.FAILED, r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(),
                        r.stderrTruncated(), r.outputJson(), error, r.startupMs(), r.executionMs(), List.of(),
                        layerDigest);
            }
        }
        return new WireResult(r.status(), r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(),
                r.stderrTruncated(), r.outputJson(), r.error(), r.startupMs(), r.executionMs(), artifacts, layerDigest);
    }

    /** An execution the node could not take (no free slot, unknown executor, no layer for its type). */
    static WireResult refused(String why) {
        return new WireResult(JobStatus.FAILED, null, "", "", false, false, null,
                new JobError(ErrorType.SANDBOX_ERROR, why, JobError.PHASE_SETUP), 0, 0, List.of(), null);
    }
}
