package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.sandbox.ResultClassifier.RunFacts;
import dev.kiln.sandbox.ResultClassifier.Verdict;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ResultClassifierTest {
    private static final String TRACE = "Traceback (most recent call last):\n  File \"/code/main.py\", line 1\n";

    private static RunFacts facts(boolean cancelled, boolean timedOut, Integer exit, String stderr, long oom, long pids,
                                  boolean network, ErrorType outputError) {
        return new RunFacts(cancelled, timedOut, 7, exit, stderr, new CgroupStats(oom, pids), 64L << 20, 32, network,
                outputError, outputError == null ? null : "output broke a limit");
    }

    private static RunFacts exited(int exit, String stderr) {
        return facts(false, false, exit, stderr, 0, 0, false, null);
    }

    private static void assertVerdict(Verdict v, JobStatus status, ErrorType type, String phase) {
        assertThat(v.status()).isEqualTo(status);
        assertThat(v.error().type()).isEqualTo(type);
        assertThat(v.error().phase()).isEqualTo(phase);
    }

    @Test
    void cancelWinsOverEverything() {
        Verdict v = ResultClassifier.classify(facts(true, true, 137, "MemoryError", 1, 1, false, null));
        assertVerdict(v, JobStatus.CANCELLED, ErrorType.CANCELLED, JobError.PHASE_EXECUTION);
        assertThat(v.error().message()).isEqualTo("cancelled");
    }

    @Test
    void oomFromTheKernelOrFromPython() {
        assertVerdict(ResultClassifier.classify(facts(false, true, 137, "", 1, 0, false, null)),
                JobStatus.OOM, ErrorType.OOM, JobError.PHASE_EXECUTION);
        Verdict fromPython = ResultClassifier.classify(exited(1, TRACE + "MemoryError\n"));
        assertVerdict(fromPython, JobStatus.OOM, ErrorType.OOM, JobError.PHASE_EXECUTION);
        assertThat(fromPython.error().message()).isEqualTo("exceeded the memory limit of 64m");
        // a MemoryError the job caught and survived is not an OOM
        assertThat(ResultClassifier.classify(exited(0, "MemoryError\n")).status()).isEqualTo(JobStatus.SUCCEEDED);
    }

    @Test
    void pidsLimitOnlyWhenTheJobDidNotSucceed() {
        assertVerdict(ResultClassifier.classify(facts(false, true, 137, "", 0, 5, false, null)),
                JobStatus.FAILED, ErrorType.PIDS_LIMIT, JobError.PHASE_EXECUTION);
        assertVerdict(ResultClassifier.classify(facts(false, false, 1, "BlockingIOError: x", 0, 5, false, null)),
                JobStatus.FAILED, ErrorType.PIDS_LIMIT, JobError.PHASE_EXECUTION);
        assertThat(ResultClassifier.classify(facts(false, false, 0, "", 0, 5, false, null)).status())
                .isEqualTo(JobStatus.SUCCEEDED);
    }

    @Test
    void timeout() {
        Verdict v = ResultClassifier.classify(facts(false, true, 137, "", 0, 0, false, null));
        assertVerdict(v, JobStatus.TIMEOUT, ErrorType.EXECUTION_TIMEOUT, JobError.PHASE_EXECUTION);
        assertThat(v.error().message()).isEqualTo("exceeded the timeout of 7 s");
    }

    @Test
    void successUnlessOutputCollectionBrokeALimit() {
        Verdict ok = ResultClassifier.classify(exited(0, "warnings are fine\n"));
        assertThat(ok.status()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(ok.error()).isNull();
        assertVerdict(ResultClassifier.classify(facts(false, false, 0, "", 0, 0, false, ErrorType.FILE_LIMIT)),
                JobStatus.FAILED, ErrorType.FILE_LIMIT, JobError.PHASE_OUTPUT);
        assertVerdict(ResultClassifier.classify(facts(false, false, 0, "", 0, 0, false, ErrorType.OUTPUT_LIMIT)),
                JobStatus.FAILED, ErrorType.OUTPUT_LIMIT, JobError.PHASE_OUTPUT);
    }

    @Test
    void syntaxErrorsOnlyWithoutATraceback() {
        for (String kind : new String[] {"SyntaxError", "IndentationError", "TabError"}) {
            Verdict v = ResultClassifier.classify(exited(1, "  File \"/code/main.py\", line 1\n" + kind + ": bad\n\n"));
            assertVerdict(v, JobStatus.FAILED, ErrorType.SYNTAX_ERROR, JobError.PHASE_COMPILE);
            assertThat(v.error().message()).isEqualTo(kind + ": bad");
        }
        // raised at run time (e.g. by compile() or an import): a runtime error
        assertVerdict(ResultClassifier.classify(exited(1, TRACE + "SyntaxError: bad\n")),
                JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
    }

    @Test
    void noSpaceLeftIsAnOutputLimit() {
        assertVerdict(ResultClassifier.classify(exited(1, TRACE + "OSError: [Errno 28] No space left on device\n")),
                JobStatus.FAILED, ErrorType.OUTPUT_LIMIT, JobError.PHASE_EXECUTION);
    }

    @Test
    void networkErrorsAreDeniedOnlyWhenNetworkIsOff() {
        for (String line : new String[] {"OSError: [Errno 101] Network is unreachable",
                "OSError: [Errno 99] Cannot assign requested address",
                "socket.gaierror: [Errno -3] Temporary failure in name resolution",
                "socket.gaierror: [Errno -2] Name or service not known"}) {
            assertVerdict(ResultClassifier.classify(exited(1, TRACE + line + "\n")),
                    JobStatus.FAILED, ErrorType.NETWORK_DENIED, JobError.PHASE_EXECUTION);
        }
        Verdict on = ResultClassifier.classify(facts(false, false, 1, TRACE + "OSError: [Errno 101] Network is unreachable",
                0, 0, true, null));
        assertVerdict(on, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
    }

    @Test
    void runtimeErrorUsesTheLastLineOrTheExitCode() {
        Verdict v = ResultClassifier.classify(exited(1, TRACE + "ValueError: boom\n\n  \n"));
        assertVerdict(v, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(v.error().message()).isEqualTo("ValueError: boom");
        assertThat(ResultClassifier.classify(exited(139, "")).error().message()).isEqualTo("process exited with code 139");
    }

    @Test
    void failuresOfTheSandboxItselfAreSandboxErrors() {
        assertVerdict(ResultClassifier.classify(exited(1, "bwrap: Can't find source path /x: No such file\n")),
                JobStatus.FAILED, ErrorType.SANDBOX_ERROR, JobError.PHASE_SETUP);
        assertVerdict(ResultClassifier.classify(exited(125, ResultClassifier.SETUP_MARKER + " cannot join cgroup /x\n")),
                JobStatus.FAILED, ErrorType.SANDBOX_ERROR, JobError.PHASE_SETUP);
        // a bwrap error line after the job's own output is the job's doing
        assertVerdict(ResultClassifier.classify(exited(1, "hello\nbwrap: fake\n")),
                JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
    }
}
