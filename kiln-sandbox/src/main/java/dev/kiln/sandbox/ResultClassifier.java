package dev.kiln.sandbox;

import dev.kiln.core.ByteSize;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Turns the facts of a finished run into a status and an error. The order of the checks is the contract: a cancel
 * wins over everything, a kernel-reported OOM over what the dying process printed, and so on.
 */
final class ResultClassifier {
    /** First stderr line of a failure of our own wrapper script (see {@link BwrapCommand}). */
    static final String SETUP_MARKER = "kiln-sandbox-setup:";
    static final int SETUP_EXIT_CODE = 125;

    private static final Pattern SYNTAX = Pattern.compile("^(SyntaxError|IndentationError|TabError): .*");
    private static final String TRACEBACK = "Traceback (most recent call last):";
    private static final List<String> NETWORK_SIGNS = List.of("Network is unreachable", "[Errno 101]", "[Errno 99]",
            "Temporary failure in name resolution", "Name or service not known", "[Errno 113] No route to host");

    /** Everything the classification depends on. {@code exitCode} is null when no exit code was observed. */
    record RunFacts(boolean cancelled, boolean timedOut, int timeoutSeconds, Integer exitCode, String stderr,
                    CgroupStats stats, long memoryLimitBytes, int pidsLimit, boolean networkEnabled,
                    ErrorType outputLimitError, String outputLimitMessage) {
    }

    record Verdict(JobStatus status, JobError error) {
        static Verdict succeeded() {
            return new Verdict(JobStatus.SUCCEEDED, null);
        }

        static Verdict of(JobStatus status, ErrorType type, String message, String phase) {
            return new Verdict(status, new JobError(type, message, phase));
        }
    }

    private ResultClassifier() {
    }

    static Verdict classify(RunFacts f) {
        String exec = JobError.PHASE_EXECUTION;
        if (f.cancelled()) return Verdict.of(JobStatus.CANCELLED, ErrorType.CANCELLED, "cancelled", exec);
        String stderr = f.stderr() == null ? "" : f.stderr();
        String last = lastNonEmptyLine(stderr);
        boolean exitedZero = !f.timedOut() && f.exitCode() != null && f.exitCode() == 0;
        boolean exitedNonZero = !f.timedOut() && !exitedZero;

        String setupFailure = exitedNonZero ? setupFailure(f.exitCode(), stderr) : null;
        if (setupFailure != null) {
            return Verdict.of(JobStatus.FAILED, ErrorType.SANDBOX_ERROR, setupFailure, JobError.PHASE_SETUP);
        }
        if (f.stats().oomKills() > 0 || (exitedNonZero && isMemoryError(last))) {
            return Verdict.of(JobStatus.OOM, ErrorType.OOM,
                    "exceeded the memory limit of " + ByteSize.format(f.memoryLimitBytes()), exec);
        }
        if (f.stats().pidsLimitHits() > 0 && !exitedZero) {
            return Verdict.of(JobStatus.FAILED, ErrorType.PIDS_LIMIT,
                    "hit the limit of " + f.pidsLimit() + " processes and threads", exec);
        }
        if (f.timedOut()) {
            return Verdict.of(JobStatus.TIMEOUT, ErrorType.EXECUTION_TIMEOUT,
                    "exceeded the timeout of " + f.timeoutSeconds() + " s", exec);
        }
        if (exitedZero) {
            if (f.outputLimitError() != null) {
                return Verdict.of(JobStatus.FAILED, f.outputLimitError(), f.outputLimitMessage(), JobError.PHASE_OUTPUT);
            }
            return Verdict.succeeded();
        }
        if (last != null && SYNTAX.matcher(last).matches() && !stderr.contains(TRACEBACK)) {
            return Verdict.of(JobStatus.FAILED, ErrorType.SYNTAX_ERROR, last, JobError.PHASE_COMPILE);
        }
        if (stderr.contains("No space left on device")) {
            return Verdict.of(JobStatus.FAILED, ErrorType.OUTPUT_LIMIT,
                    "ran out of space (/output or /tmp is full): " + (last == null ? "" : last), exec);
        }
        if (stderr.contains("File too large")) { // EFBIG: RLIMIT_FSIZE, see SandboxRlimits
            return Verdict.of(JobStatus.FAILED, ErrorType.OUTPUT_LIMIT,
                    "wrote a file larger than the output limit allows: " + (last == null ? "" : last), exec);
        }
        if (!f.networkEnabled() && NETWORK_SIGNS.stream().anyMatch(stderr::contains)) {
            return Verdict.of(JobStatus.FAILED, ErrorType.NETWORK_DENIED,
                    "network access is disabled for this job type: " + (last == null ? "" : last), exec);
        }
        String message = last != null ? last : "process exited with code " + f.exitCode();
        return Verdict.of(JobStatus.FAILED, ErrorType.RUNTIME_ERROR, message, exec);
    }

    /** bwrap, setpriv or our wrapper failed before the job's code ran; null when the job itself ran. */
    static String setupFailure(Integer exitCode, String stderr) {
        if (exitCode == null || exitCode == 0) return null;
        String first = stderr.lines().findFirst().orElse("");
        if (exitCode == SETUP_EXIT_CODE && first.startsWith(SETUP_MARKER)) return "sandbox setup failed: " + first;
        if (first.startsWith("bwrap: ") || first.startsWith("setpriv: ")) return "sandbox setup failed: " + first;
        return null;
    }

    private static boolean isMemoryError(String line) {
        return line != null && (line.equals("MemoryError") || line.startsWith("MemoryError: "));
    }

    static String lastNonEmptyLine(String text) {
        List<String> lines = text.lines().map(String::strip).filter(s -> !s.isEmpty()).toList();
        return lines.isEmpty() ? null : lines.getLast();
    }
}
