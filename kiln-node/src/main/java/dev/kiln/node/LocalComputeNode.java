package dev.kiln.node;

import dev.kiln.core.ComputeNode;
import dev.kiln.sandbox.FileTrees;
import dev.kiln.core.Environments;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A compute node living in the orchestrator's process: runs each execution on a virtual thread with the named
 * executor, in a work directory of its own that is deleted once the result has been delivered.
 */
public final class LocalComputeNode implements ComputeNode, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LocalComputeNode.class);

    private final String id;
    private final Map<String, Executor> executors;
    private final String defaultExecutor;
    private final int slots;
    private final Path workRoot;
    private final Environments environments;
    private final Map<String, String> labels;
    private final Semaphore free;
    private final Map<String, Executor> running = new ConcurrentHashMap<>();
    private final List<Runnable> slotListeners = new CopyOnWriteArrayList<>();

    /** {@code labels}: the operator's; the automatic ones (arch, os, cpus, memory, executors) are added. */
    public LocalComputeNode(String id, Map<String, Executor> executors, String defaultExecutor, int slots,
                            Path workRoot, Environments environments, Map<String, String> labels)
            throws IOException {
        if (!executors.containsKey(defaultExecutor)) {
            throw new IllegalArgumentException("default executor '" + defaultExecutor + "' is not among "
                    + executors.keySet());
        }
        if (slots < 1) throw new IllegalArgumentException("slots must be at least 1, got " + slots);
        this.id = id;
        this.executors = Map.copyOf(executors);
        this.defaultExecutor = defaultExecutor;
        this.slots = slots;
        this.workRoot = workRoot;
        this.environments = environments;
        this.labels = NodeLabels.withAutomatic(labels, this.executors.keySet());
        this.free = new Semaphore(slots);
        // Leftovers of a crashed run: executors release what they hold (mounts) before the files go.
        this.executors.values().forEach(e -> e.releaseStaleWork(workRoot));
        FileTrees.deleteRecursively(workRoot);
        WorkRoots.create(workRoot);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int capacity() {
        return slots;
    }

    @Override
    public int freeSlots() {
        return free.availablePermits();
    }

    @Override
    public Set<String> executors() {
        return executors.keySet();
    }

    @Override
    public Map<String, String> labels() {
        return labels;
    }

    @Override
    public String defaultExecutor() {
        return defaultExecutor;
    }

    @Override
    public void execute(ExecutionRequest request, String executorName, ExecutionListener listener) {
        Executor executor = executors.get(executorName);
        if (executor == null) {
            throw new IllegalArgumentException("node " + id + " has no executor '" + executorName + "'");
        }
        if (!free.tryAcquire()) throw new IllegalStateException("node " + id + " has no free slot");
        running.put(request.executionId(), executor);
        Thread.ofVirtual().name("exec-" + request.executionId()).start(() -> run(request, executor, listener));
    }

    private void run(ExecutionRequest request, Executor executor, ExecutionListener listener) {
        Path workDir = workRoot.resolve(request.executionId());
        try {
            listener.started(request);
            ExecutionResult result;
            try {
                long buildMs = request.layerDigest() == null ? 0
                        : environments.provision(request.jobType(), request.layerDigest());
                Files.createDirectories(workDir);
                result = withExtraStartup(executor.execute(request, workDir,
                        (stream, bytes) -> listener.output(request, stream, bytes)), buildMs);
            } catch (LayerUnavailableException e) {
                result = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                        e.getMessage(), JobError.PHASE_SETUP));
            } catch (IOException | RuntimeException e) {
                log.error("execution {} failed inside Kiln", request.executionId(), e);
                result = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                        "sandbox failed: " + e, JobError.PHASE_SETUP));
            }
            try {
                listener.completed(request, result);
            } catch (RuntimeException e) {
                log.error("result listener failed for {}", request.executionId(), e);
            }
        } finally {
            running.remove(request.executionId());
            try {
                FileTrees.deleteRecursively(workDir);
            } catch (IOException e) {
                log.warn("could not delete work dir {}", workDir, e);
            }
            free.release();
            slotListeners.forEach(Runnable::run);
        }
    }

    /** A first-use layer build is part of the job's start-up, and its timing says so. */
    private static ExecutionResult withExtraStartup(ExecutionResult r, long extraMs) {
        if (extraMs == 0) return r;
        return new ExecutionResult(r.status(), r.exitCode(), r.stdout(), r.stderr(), r.stdoutTruncated(),
                r.stderrTruncated(), r.outputJson(), r.error(), r.startupMs() + extraMs, r.executionMs(),
                r.artifacts());
    }

    @Override
    public void cancel(String executionId) {
        Executor executor = running.get(executionId);
        if (executor != null) executor.cancel(executionId);
    }

    @Override
    public void onSlotFreed(Runnable listener) {
        slotListeners.add(listener);
    }

    /** Kills what still runs and waits (bounded) until every interrupted result has been delivered. */
    @Override
    public void close() {
        running.forEach((execId, executor) -> executor.cancel(execId));
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(15);
        while (!running.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        executors.values().forEach(Executor::close);
    }
}
