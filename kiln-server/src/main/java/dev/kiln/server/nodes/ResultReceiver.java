package dev.kiln.server.nodes;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.protocol.WireResult;
import dev.kiln.node.protocol.WireResult.WireArtifact;
import dev.kiln.sandbox.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a node's result into the orchestrator's: a remote node is trusted no more than a sandbox, so artifact sizes,
 * counts and hashes are checked against the bytes and the limits before anything is kept. Artifacts are spooled to
 * files the artifact store then moves into place; the spool is deleted once the result is recorded.
 */
final class ResultReceiver {
    private static final Logger log = LoggerFactory.getLogger(ResultReceiver.class);

    private final Path spoolDir;
    private final OutputLimits limits;

    ResultReceiver(Path spoolDir, OutputLimits limits) {
        this.spoolDir = spoolDir;
        this.limits = limits;
    }

    void deliver(RemoteComputeNode.Assigned a, WireResult r, String nodeId) {
        ExecutionRequest asRun = new ExecutionRequest(a.request().executionId(), a.request().jobId(),
                a.request().attempt(), a.request().spec(), a.request().jobType(), a.request().timeoutSeconds(),
                a.request().outputLimits(), r.layerDigest());
        Path spool = spoolDir.resolve(a.request().executionId());
        try {
            ExecutionResult result;
            try {
                result = toResult(r, spool);
            } catch (InvalidResultException e) {
                log.warn("node {} sent an invalid result for {}: {}", nodeId, a.request().executionId(), e.getMessage());
                result = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                        "node " + nodeId + " sent an invalid result: " + e.getMessage(), JobError.PHASE_OUTPUT));
            } catch (UncheckedIOException e) {
                // The job must still end: its assignment is already released, so nobody would finish it later.
                log.error("could not spool the artifacts of {} from node {}", a.request().executionId(), nodeId, e);
                result = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                        "could not receive the artifacts: " + e.getCause().getMessage(), JobError.PHASE_OUTPUT));
            }
            a.listener().completed(asRun, result);
        } finally {
            try {
                FileTrees.deleteRecursively(spool);
            } catch (IOException e) {
                log.warn("could not delete result spool {}", spool, e);
            }
        }
    }

    private ExecutionResult toResult(WireResult r, Path spool) {
        if (r.artifacts().size() > limits.maxArtifacts()) {
            throw new InvalidResultException(r.artifacts().size() + " artifacts, the limit is " + limits.maxArtifacts());
        }
        long total = 0;
        Set<String> names = new HashSet<>();
        for (WireArtifact w : r.artifacts()) {
            if (!names.add(w.name())) throw new InvalidResultException("artifact '" + w.name() + "' given twice");
            if (w.content().length != w.size()) {
                throw new InvalidResultException("artifact size " + w.size() + " does not match its "
                        + w.content().length + " bytes");
            }
            if (w.size() > limits.maxArtifactBytes()) {
                throw new InvalidResultException("an artifact of " + w.size() + " bytes exceeds max_artifact_size "
                        + limits.maxArtifactBytes());
            }
            total += w.size();
            if (!sha256(w.content()).equalsIgnoreCase(w.sha256())) {
                throw new InvalidResultException("artifact sha256 does not match its bytes");
            }
        }
        if (total > limits.maxOutputDirBytes()) {
            throw new InvalidResultException(total + " bytes of artifacts exceed max_output_size "
                    + limits.maxOutputDirBytes());
        }
        List<CollectedArtifact> collected = new ArrayList<>(r.artifacts().size());
        try {
            if (!r.artifacts().isEmpty()) Files.createDirectories(spool);
            int i = 0;
            for (WireArtifact w : r.artifacts()) {
                Path file = spool.resolve("a" + i++); // the name is validated by the artifact store, not used here
                Files.write(file, w.content(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                collected.add(new CollectedArtifact(w.name(), w.size(), w.sha256().toLowerCase(), file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String outputJson = r.outputJson() != null && r.outputJson().length() > limits.maxArtifactBytes()
                ? null : r.outputJson(); // as a sandbox's result.json over the cap: dropped
        return new ExecutionResult(r.status(), r.exitCode(), cap(r.stdout(), limits.maxStdoutBytes()),
                cap(r.stderr(), limits.maxStderrBytes()), r.stdoutTruncated() || over(r.stdout(), limits.maxStdoutBytes()),
                r.stderrTruncated() || over(r.stderr(), limits.maxStderrBytes()), outputJson, r.error(),
                r.startupMs(), r.executionMs(), collected);
    }

    private static boolean over(String s, long max) {
        return s != null && s.length() > max;
    }

    /** Nodes cap output themselves; this only stops a misbehaving node from storing more than the limit. */
    private static String cap(String s, long max) {
        if (s == null || s.length() <= max) return s;
        return s.substring(0, (int) max);
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class InvalidResultException extends RuntimeException {
        InvalidResultException(String message) {
            super(message);
        }
    }
}
