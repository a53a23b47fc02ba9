package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Runs each execution in a fresh gVisor sandbox ({@code runsc run} on an OCI bundle of its own, see
 * {@link OciBundle}): the job's system calls reach gVisor's user-space kernel (the sentry), not the host's. Same
 * mounts, environment, identity and result shape as {@link BwrapExecutor}; runsc runs inside the execution's own
 * cgroup (under Kiln's parent {@code <parent>-gvisor}) with limits widened by gVisor's own needs
 * ({@link GvisorLimits}). No network: a job type with {@code network_enabled} is refused (gVisor's netstack would need
 * a network namespace wired to the outside, and {@code --network=host} would hand the job the host's loopback).
 * Cold starts only: no warm pools. Nothing outlives {@link #execute}: the cgroup is killed and removed,
 * {@code runsc delete --force} runs, and the bundle and runsc's state root are deleted.
 */
public final class GvisorExecutor implements Executor {
    public static final String NAME = "gvisor";
    static final String NETWORK_REFUSED = "network_enabled job types cannot run on the gvisor executor yet (it runs "
            + "with --network=none; --network=host would reach the host's loopback): use executor bwrap";
    private static final Logger log = LoggerFactory.getLogger(GvisorExecutor.class);
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration PENDING_CANCEL_TTL = Duration.ofMinutes(10);
    private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final BwrapConfig config;
    private final Path runsc;
    private final RunscPlatform platform;
    private final CgroupParentClaim claim;
    private final Cgroups cgroups;
    private final LayerStore layers; // null: requests naming a layer fail
    private final ConcurrentHashMap<String, ExecutionHandle> handles = new ConcurrentHashMap<>();

    /** Debian's {@code /usr/bin/runsc}, the interpreter and cgroup root of {@code config}. */
    public GvisorExecutor(BwrapConfig config, LayerStore layers) {
        this(config, RunscPlatform.DEFAULT_RUNSC, layers);
    }

    /**
     * Checks runsc, root and python, detects the platform, claims the cgroup parent
     * {@code config.cgroupParent() + "-gvisor"} and removes its stale children.
     *
     * @throws IllegalStateException when runsc (with the package to install), root, python or cgroups are missing
     */
    public GvisorExecutor(BwrapConfig config, Path runsc, LayerStore layers) {
        this.config = config;
        this.runsc = runsc;
        this.layers = layers;
        if (!RunscPlatform.installed(runsc)) {
            throw new IllegalStateException(RunscPlatform.RUNSC_MISSING + " (looked for " + runsc + ")");
        }
        if (!Privileges.isRoot()) {
            throw new IllegalStateException("the gvisor executor needs Kiln to run as root (runsc is started as "
                    + "root and drops the sandbox to uid 65534 itself)");
        }
        Path python = config.python().normalize();
        if (!python.isAbsolute() || !python.startsWith("/usr/") || !Files.isExecutable(python)) {
            throw new IllegalStateException("python must be an executable under /usr: " + config.python());
        }
        this.platform = RunscPlatform.detect(runsc, Path.of(System.getProperty("java.io.tmpdir"), "kiln-runsc-probe"));
        String parent = cgroupParent(config.cgroupParent());
        this.claim = CgroupParentClaim.claim(parent);
        try {
            this.cgroups = CgroupDetector.detect(config.cgroupRoot(), parent);
            int stale = cgroups.removeStale();
            if (stale > 0) log.warn("removed {} stale cgroup(s) under '{}' left by an earlier run", stale, parent);
        } catch (RuntimeException e) {
            claim.close();
            throw e;
        }
        log.info("gvisor executor ready: {}, platform {} ({}), cgroup {} parent '{}'", platform.version(),
                platform.platform(), platform.why(), cgroups.version(), parent);
    }

    /** The gVisor executor's own parent next to bwrap's: one executor per parent (see CgroupParentClaim). */
    public static String cgroupParent(String bwrapParent) {
        return bwrapParent + "-gvisor";
    }

    @Override
    public void releaseStaleWork(Path workRoot) {
        OutputMount.unmountStale(workRoot, config.umount());
    }

    @Override
    public String name() {
        return NAME;
    }

    /** The platform runsc runs on here (ptrace, systrap or kvm) and why. */
    public RunscPlatform platform() {
        return platform;
    }

    Cgroups cgroups() {
        return cgroups;
    }

    /** For tests: the execution's runsc has been spawned and has not finished. */
    boolean isRunning(String executionId) {
        ExecutionHandle h = handles.get(executionId);
        return h != null && h.isStarted();
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir) {
        return execute(request, workDir, OutputSink.NONE);
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir, OutputSink live) {
        long entry = System.nanoTime();
        String id = request.executionId();
        ExecutionHandle handle = new ExecutionHandle(live);
        ExecutionHandle existing = handles.putIfAbsent(id, handle);
        if (existing != null) {
            if (existing.isCancelled() && !existing.isStarted() && handles.remove(id, existing)) {
                return GvisorRun.cancelled(entry);
            }
            return sandboxError("execution " + id + " is already running on this node");
        }
        try {
            return withLayer(request, workDir, handle, entry);
        } catch (RuntimeException e) {
            log.error("execution {} failed inside Kiln", id, e);
            return sandboxError("internal error: " + e);
        } finally {
            handles.remove(id, handle);
            if (handle.wasInterrupted()) Thread.currentThread().interrupt();
        }
    }

    private ExecutionResult withLayer(ExecutionRequest request, Path workDir, ExecutionHandle handle, long entry) {
        if (request.jobType().networkEnabled()) return sandboxError(NETWORK_REFUSED);
        String digest = request.layerDigest();
        if (digest == null) return run(request, workDir, handle, entry, null);
        String notBuilt = "layer " + digest + " of job type " + request.jobType().name() + " is not built";
        if (layers == null || !LayerDigest.isDigest(digest)) {
            return sandboxError(notBuilt + (layers == null ? " (this executor has no layer store)" : ""));
        }
        try (LayerLease lease = layers.acquire(digest)) {
            Layer layer = layers.find(lease.digest()).orElse(null);
            if (layer == null) return sandboxError(notBuilt);
            return run(request, workDir, handle, entry, layer);
        }
    }

    private ExecutionResult run(ExecutionRequest request, Path workDir, ExecutionHandle handle, long entry,
                                Layer layer) {
        JobType type = request.jobType();
        WorkDirLayout layout = WorkDirLayout.of(workDir);
        Path gvisorDir = layout.root().resolve("gvisor");
        String containerId = BwrapExecutor.cgroupName(request.executionId());
        RunscCommand runscCommand = new RunscCommand(runsc, gvisorDir.resolve("state"), platform.platform());
        OciBundle bundle = new OciBundle(gvisorDir.resolve("bundle"));
        try {
            layout.prepare(request.spec().code(), request.spec().inputDataJson(), request.spec().files());
            Files.createDirectory(gvisorDir);
            Files.setPosixFilePermissions(gvisorDir, WorkDirLayout.DIR_700);
            bundle.write(new OciBundle.Contents(layout, List.of(interpreter(layer), "-u", "/code/main.py"),
                    environment(type, layer), type.tmpSizeBytes(), layer));
        } catch (IOException e) {
            return sandboxError("cannot prepare the work dir: " + e.getMessage());
        }
        // The job is 65534 inside gVisor's own kernel, which checks the files' owners itself (no host uid per slot
        // here: gVisor's sentry and gofer run as root on the host, the job never does).
        try (OutputMount output = OutputMount.prepare(layout.output(), request.outputLimits().maxOutputDirBytes(),
                Privileges.SANDBOX_UID, config.mount(), config.umount())) {
            Cgroup cgroup;
            try {
                cgroup = cgroups.create(BwrapExecutor.cgroupName(request.executionId()), GvisorLimits.of(type));
            } catch (IOException | RuntimeException e) {
                return sandboxError("cannot create the cgroup: " + e);
            }
            boolean empty = false;
            try {
                GvisorRun.Outcome outcome = new GvisorRun(request, layout, cgroup, handle, entry)
                        .run(runscCommand.runInCgroup(cgroup.procsFiles(), config.python(), bundle.dir(), containerId));
                empty = outcome.cgroupEmpty();
                return outcome.result();
            } finally {
                cgroup.dispose(empty, TOOL_TIMEOUT);
                removeContainer(runscCommand, containerId, gvisorDir);
            }
        } catch (IOException e) {
            removeContainer(runscCommand, containerId, gvisorDir);
            return sandboxError("cannot prepare /output: " + e);
        }
    }

    /** runsc's state of the container (a no-op when runsc removed it already), then the bundle and state root. */
    private static void removeContainer(RunscCommand cmd, String containerId, Path gvisorDir) {
        if (Files.isDirectory(gvisorDir.resolve("state"))) {
            var outcome = HostCommand.run(cmd.deleteForce(containerId), TOOL_TIMEOUT);
            if (!outcome.ok() && !outcome.output().contains("does not exist")) {
                log.warn("runsc delete --force {}: {}", containerId, outcome.output());
            }
        }
        LayerFiles.deleteQuietly(gvisorDir);
    }

    private String interpreter(Layer layer) {
        return (layer != null ? layer.interpreter().path() : config.python()).toString();
    }

    /** bwrap's cleared environment: the base, the layer's PYTHONPATH, then the job type's variables. */
    static Map<String, String> environment(JobType type, Layer layer) {
        Map<String, String> env = new java.util.LinkedHashMap<>(BwrapCommand.BASE_ENV);
        if (layer != null) env.put("PYTHONPATH", BwrapCommand.LAYER_PYTHONPATH);
        env.putAll(type.environment());
        return env;
    }

    static ExecutionResult sandboxError(String message) {
        log.warn("sandbox error: {}", message);
        return ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR, message,
                JobError.PHASE_SETUP));
    }

    @Override
    public void cancel(String executionId) {
        ExecutionHandle h = handles.computeIfAbsent(executionId, k -> ExecutionHandle.cancelledBeforeStart());
        h.cancel();
        handles.entrySet().removeIf(e -> e.getValue().isCancelled() && !e.getValue().isStarted()
                && e.getValue().ageNanos() > PENDING_CANCEL_TTL.toNanos());
    }

    /** Kills what still runs, waits for the executing threads to clean up, removes the parent cgroup. */
    @Override
    public void close() {
        handles.values().forEach(ExecutionHandle::cancel);
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        while (handles.values().stream().anyMatch(ExecutionHandle::holdsCgroup) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        cgroups.close();
        claim.close();
    }
}
