package dev.kiln.node.agent;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.SpecHash;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * An executor whose "code" says what to do, for agent tests that need more than noop without a sandbox:
 * {@code artifact:NAME:TEXT} leaves an artifact file in the work dir (deleted by the node once the result is
 * delivered), {@code block} runs until cancelled, {@code linger} also takes half a second to die, anything else
 * succeeds printing the code.
 */
final class ScriptExecutor implements Executor {
    static final String NAME = "script";
    private final ConcurrentHashMap<String, CountDownLatch> cancels = new ConcurrentHashMap<>();
    /** Executions the node killed, in order. */
    final java.util.concurrent.BlockingQueue<String> killed = new java.util.concurrent.LinkedBlockingQueue<>();
    /** Executions that started running, in order. */
    final java.util.concurrent.BlockingQueue<String> ran = new java.util.concurrent.LinkedBlockingQueue<>();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir) {
        ran.add(request.executionId());
        String code = request.spec().code();
        if (code.startsWith("artifact:")) {
            String[] parts = code.split(":", 3);
            byte[] content = parts[2].getBytes(StandardCharsets.UTF_8);
            try {
                Path file = Files.write(workDir.resolve(parts[1]), content);
                String sha = HexFormat.of().formatHex(SpecHash.sha256().digest(content));
                return new ExecutionResult(JobStatus.SUCCEEDED, 0, "wrote " + parts[1], "", false, false, null, null, 1,
                        2, List.of(new CollectedArtifact(parts[1], content.length, sha, file)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        if (code.equals("block") || code.equals("linger")) {
            try {
                latch(request.executionId()).await(60, TimeUnit.SECONDS);
                if (code.equals("linger")) Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            cancels.remove(request.executionId());
            return new ExecutionResult(JobStatus.CANCELLED, null, "", "", false, false, null,
                    new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_EXECUTION), 1, 2, List.of());
        }
        return new ExecutionResult(JobStatus.SUCCEEDED, 0, code, "", false, false, null, null, 1, 2, List.of());
    }

    @Override
    public void cancel(String executionId) {
        killed.add(executionId);
        latch(executionId).countDown();
    }

    private CountDownLatch latch(String executionId) {
        return cancels.computeIfAbsent(executionId, k -> new CountDownLatch(1));
    }
}
