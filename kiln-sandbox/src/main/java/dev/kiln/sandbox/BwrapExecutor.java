package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.OutputSink;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.Executor;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs each execution in a fresh bubblewrap sandbox (all namespaces unshared, a host uid of its own seen as 65534
 * inside, read-only /usr, no host
 * files beyond that) inside its own cgroup (memory, pids, cpu limits). Nothing of a job outlives
 * {@link #execute}: after the process exits the cgroup is killed until empty and removed. A request naming a layer
 * digest runs on that layer of the {@link LayerStore} (read-only {@code /kiln/site} and {@code /kiln/shared} on
 * {@code PYTHONPATH}, the layer's interpreter), leased for the whole execution.
 * <p>
 * Warm pools (optional, {@link #configurePool}): per job type, a few sandboxes started ahead of time exactly like a
 * cold one, whose interpreter has finished its start-up and waits in {@code open("/code/main.py")} on a FIFO (see
 * {@link WarmSandbox}). An execution takes one when its type and layer match, writes its files and code, and sends
 * the code through the FIFO; the wall timeout starts there. Each sandbox runs one job and is destroyed; the pool
 * refills in the background. A miss (empty pool, other definition, a job that must start cold) is a cold start,
 * never a wait. Warm and cold runs of the same job give the same result.
 */
public final class BwrapExecutor implements Executor {
    public static final String NAME = "bwrap";
    private static final long CLOSE_WAIT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    static final String BWRAP_MISSING = "bubblewrap (bwrap) is not installed: run `apt-get install -y bubblewrap`";

    private static final Logger log = LoggerFactory.getLogger(BwrapExecutor.class);
    private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration PENDING_CANCEL_TTL = Duration.ofMinutes(10);
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
    static final Map<String, String> SPAWN_ENV = Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    private static final Duration POOL_CLOSE_WAIT = Duration.ofSeconds(30);
    /** Warm sandboxes tried for one execution (each found dead at hand-over) before it starts cold. */
    private static final int MAX_WARM_ATTEMPTS = 3;

    private final BwrapConfig config;
    private final boolean root;
    private final CgroupParentClaim claim;
    private final Cgroups cgroups;
    private final BwrapCommand command;
    private final LayerStore layers; // null: this executor runs no layers
    private final WarmPools pools; // null: no warm root, no pools
    private final SandboxUids uids;
    // executionId -> handle; also holds cancels that arrived before their execution
    private final ConcurrentHashMap<String, ExecutionHandle> handles = new ConcurrentHashMap<>();

    /** With {@link BwrapConfig#defaults()}. */
    public BwrapExecutor() {
        this(BwrapConfig.defaults());
    }

    /**
     * Checks the tools, detects cgroup v1/v2, creates Kiln's parent cgroup and removes children a crashed run left.
     *
     * @throws IllegalStateException when bwrap, setpriv (as root), python or a usable cgroup hierarchy is missing
     */
    public BwrapExecutor(BwrapConfig config) {
        this(config, null);
    }

    /**
     * Like {@link #BwrapExecutor(BwrapConfig)}, and runs executions whose request names a layer digest on that layer
     * of {@code layers} (null: requests naming a layer fail with {@code sandbox_error}).
     */
    public BwrapExecutor(BwrapConfig config, LayerStore layers) {
        this(config, layers, null);
    }

    /**
     * Like {@link #BwrapExecutor(BwrapConfig, LayerStore)}, and able to keep warm pools
     * ({@link #configurePool}) of pre-spawned sandboxes with their work dirs under {@code warmRoot} (null: no pools).
     * {@code warmRoot} belongs to this executor alone (what a crashed run left there is removed now); like the work
     * root, every directory above it must be searchable by others (bubblewrap resolves binds as uid 65534), and it
     * must not lie inside the node's work root, which the node empties at start.
     *
     * @throws IllegalStateException also when {@code warmRoot} cannot be created, is not reachable by the sandbox
     *                               user, or {@code mkfifo} is missing
     */
    public BwrapExecutor(BwrapConfig config, LayerStore layers, Path warmRoot) {
        this.config = config;
        this.layers = layers;
        if (!Files.isExecutable(config.bwrap())) {
            throw new IllegalStateException(BWRAP_MISSING + " (looked for " + config.bwrap() + ")");
        }
        this.root = Privileges.isRoot();
        if (root) {
            requireTool(config.setpriv(), "setpriv (util-linux)");
            requireTool(config.mount(), "mount (util-linux)");
            requireTool(config.umount(), "umount (util-linux)");
        } else {
            log.warn("Kiln is not running as root: bwrap runs unprivileged (user namespace), /output is not "
                    + "size-capped while the job runs, and cgroups need delegation");
        }
        Path python = config.python().normalize();
        if (!python.isAbsolute() || !python.startsWith("/usr/")) {
            throw new IllegalStateException("python must be an absolute path under /usr (the only host tree the "
                    + "sandbox sees): " + config.python());
        }
        requireTool(python, "python3 (run `apt-get install -y python3`)");
        this.claim = CgroupParentClaim.claim(config.cgroupParent());
        try {
            this.cgroups = CgroupDetector.detect(config.cgroupRoot(), config.cgroupParent());
            int stale = cgroups.removeStale();
            if (stale > 0) {
                log.warn("removed {} stale cgroup(s) under '{}' left by an earlier run", stale, config.cgroupParent());
            }
            this.command = new BwrapCommand(config);
            this.uids = SandboxUids.forHost(config, root);
            this.pools = warmRoot == null ? null : createPools(warmRoot);
        } catch (RuntimeException e) {
            claim.close();
            throw e;
        }
        log.info("bwrap executor ready: cgroup {}, parent '{}', {}", cgroups.version(), config.cgroupParent(),
                root ? "root (a uid per sandbox from " + config.uidRange() + ", tmpfs /output)" : "unprivileged");
    }

    private WarmPools createPools(Path warmRoot) {
        requireTool(WarmSandbox.MKFIFO, "mkfifo (coreutils)");
        Path dir = warmRoot.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_711);
            if (root) {
                Path blocker = LayerFiles.firstUntraversable(dir);
                if (blocker != null) {
                    throw new IllegalStateException("the warm root " + dir + " is not reachable by the sandbox user: "
                            + blocker + " lacks the search permission for others (chmod o+x)");
                }
            }
            return new WarmPools(new WarmSandbox.Context(config, root, cgroups, command, layers, dir, uids));
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare the warm root " + dir + ": " + e, e);
        }
    }

    /**
     * Keeps {@code settings.size()} pre-spawned sandboxes ready for job type {@code type} on layer
     * {@code layerDigest} (null: the type has no layer), or removes the type's pool ({@code size} 0). Returns at once;
     * the pool fills in the background. A request is served warm only when its {@link ExecutionRequest#jobType()}
     * equals {@code type} (the whole definition) and its layer digest equals {@code layerDigest}; call again whenever
     * the type is redefined or its layer rebuilt: the old pool drains (idle sandboxes destroyed) and a new one fills.
     * Calling again with the same definition only changes the settings. A type whose layer is not built yet fails
     * to fill and retries with back-off (counted in {@link WarmPoolStats#spawnFailures()}).
     *
     * @throws IllegalStateException when enabling a pool on an executor built without a warm root, or closed
     */
    public void configurePool(JobType type, String layerDigest, PoolSettings settings) {
        if (pools == null) {
            if (settings.enabled()) {
                throw new IllegalStateException("warm pools need a warm root: construct the executor with "
                        + "BwrapExecutor(config, layers, warmRoot)");
            }
            return;
        }
        pools.configure(type, layerDigest, settings);
    }

    /** One entry per job type that has or had a pool, by name; empty without pools. */
    public List<WarmPoolStats> poolStats() {
        return pools == null ? List.of() : pools.stats();
    }

    WarmPools pools() {
        return pools;
    }

    /**
     * Null when this executor can run network-enabled job types here, else why not and what to install (for the
     * start-up check of the configured types).
     */
    public String networkUnavailable() {
        return new UserNetwork(config.setpriv(), root).unavailable();
    }

    private static void requireTool(Path path, String what) {
        if (!Files.isExecutable(path)) throw new IllegalStateException(what + " not found at " + path);
    }

    /**
     * For the node at start, before it deletes leftover work dirs: unmounts the /output tmpfs of executions a
     * crashed run left mounted anywhere below {@code workRoot}. Returns how many were unmounted.
     */
    public int unmountStaleOutputs(Path workRoot) {
        return root ? OutputMount.unmountStale(workRoot, config.umount()) : 0;
    }

    @Override
    public void releaseStaleWork(Path workRoot) {
        unmountStaleOutputs(workRoot);
    }

    @Override
    public String name() {
        return NAME;
    }

    Cgroups cgroups() {
        return cgroups;
    }

    /** For tests: the execution's process has been spawned and has not finished. */
    boolean isRunning(String executionId) {
        ExecutionHandle h = handles.get(executionId);
        return h != null && h.isStarted();
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir) {
        return execute(request, workDir, dev.kiln.core.OutputSink.NONE);
    }

    @Override
    public ExecutionResult execute(ExecutionRequest request, Path workDir, dev.kiln.core.OutputSink live) {
        long entry = System.nanoTime();
        String id = request.executionId();
        ExecutionHandle handle = new ExecutionHandle(live);
        ExecutionHandle existing = handles.putIfAbsent(id, handle);
        if (existing != null) {
            if (existing.isCancelled() && !existing.isStarted() && handles.remove(id, existing)) {
                return cancelled(null, "", "", false, false, entry, entry);
            }
            return sandboxError("execution " + id + " is already running on this node");
        }
        try {
            return run(request, workDir, handle, entry);
        } catch (RuntimeException e) {
            log.error("execution {} failed inside Kiln", id, e);
            return sandboxError("internal error: " + e);
        } finally {
            handles.remove(id, handle);
            if (handle.wasInterrupted()) Thread.currentThread().interrupt();
        }
    }

    /** Warm when the type's pool has a ready sandbox for it, else cold. */
    private ExecutionResult run(ExecutionRequest request, Path workDir, ExecutionHandle handle, long entry) {
        if (pools != null) {
            for (int attempt = 0; attempt < MAX_WARM_ATTEMPTS; attempt++) {
                WarmSandbox s = pools.take(request);
                if (s == null) break;
                ExecutionResult r = runWarm(request, workDir, handle, entry, s);
                if (r != null) return r;
            }
        }
        return runCold(request, workDir, handle, entry);
    }

    /**
     * Runs the job in a pre-spawned sandbox; null when that sandbox turned out dead at hand-over (nothing of the
     * job ran; the caller goes on). The sandbox is destroyed afterwards in every case.
     */
    private ExecutionResult runWarm(ExecutionRequest request, Path workDir, ExecutionHandle handle, long entry,
                                    WarmSandbox s) {
        try {
            WorkDirLayout caller = WorkDirLayout.of(workDir);
            if (s.fileSizeLimit() < rlimits(request).fileSizeBytes()) {
                pools.discard(s, "started with a smaller RLIMIT_FSIZE than this request's /output cap needs");
                return null; // nothing of the job ran: the next warm sandbox (spawned for this cap) or a cold start
            }
            try {
                caller.prepareArtifacts();
                s.writeJob(request.spec(), request.outputLimits().maxOutputDirBytes(), config.mount());
            } catch (IOException e) {
                return sandboxError("cannot prepare the work dir: " + e.getMessage());
            }
            if (!handle.attach(s.cgroup())) return cancelled(null, "", "", false, false, entry, entry);
            byte[] code = WorkDirLayout.codeBytes(request.spec().code());
            long[] go = new long[1];
            Process process;
            try {
                process = handle.spawn(() -> {
                    go[0] = System.nanoTime();
                    pools.go(s, code);
                    return s.process();
                });
            } catch (WarmSandbox.GoneException e) {
                pools.discard(s, e.getMessage());
                try {
                    Files.deleteIfExists(caller.artifacts()); // empty: the next attempt lays the work dir out afresh
                } catch (IOException ex) {
                    return sandboxError("cannot prepare the work dir: " + ex.getMessage());
                }
                return null;
            } catch (IOException e) {
                return sandboxError("cannot hand the job to the warm sandbox: " + e.getMessage());
            }
            if (process == null) return cancelled(null, "", "", false, false, entry, entry);
            pools.hit(s);
            return supervise(request, s.cgroup(), handle, process, entry, go[0], s.layout().output(),
                    caller.artifacts()).result;
        } finally {
            pools.release(s);
        }
    }

    /** With a layer: leased for the whole execution, so it cannot be removed while the job runs. */
    private ExecutionResult runCold(ExecutionRequest request, Path workDir, ExecutionHandle handle, long entry) {
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
        WorkDirLayout layout = WorkDirLayout.of(workDir);
        OutputMount view;
        try {
            layout.prepareView();
            view = OutputMount.prepareView(layout.view(), root, config.mount(), config.umount());
        } catch (IOException e) {
            return sandboxError("cannot prepare the work dir: " + e.getMessage());
        }
        try (view) {
            return runInView(request, layout, handle, entry, layer);
        }
    }

    private ExecutionResult runInView(ExecutionRequest request, WorkDirLayout layout, ExecutionHandle handle,
                                      long entry, Layer layer) {
        try {
            layout.prepare(request.spec().code(), request.spec().inputDataJson(), request.spec().files());
            if (root) {
                Path blocker = layout.firstUntraversableAncestor();
                if (blocker != null) {
                    return sandboxError("the work dir is not reachable by the sandbox user: " + blocker
                            + " lacks the search permission for others (chmod o+x)");
                }
            }
        } catch (IOException e) {
            return sandboxError("cannot prepare the work dir: " + e.getMessage());
        }
        SandboxUids.Lease uid;
        try {
            uid = uids.lease();
        } catch (IOException e) {
            return sandboxError(e.getMessage());
        }
        boolean[] processesGone = {true}; // nothing ran as the uid until the cgroup exists
        try {
            return runAs(uid, request, layout, handle, entry, layer, processesGone);
        } finally {
            uid.release(processesGone[0]);
        }
    }

    private ExecutionResult runAs(SandboxUids.Lease uid, ExecutionRequest request, WorkDirLayout layout,
                                  ExecutionHandle handle, long entry, Layer layer, boolean[] processesGone) {
        JobType type = request.jobType();
        OutputMount output;
        try {
            output = OutputMount.prepare(layout.output(), request.outputLimits().maxOutputDirBytes(), uid.uid(),
                    config.mount(), config.umount());
        } catch (IOException e) {
            return sandboxError("cannot prepare /output: " + e);
        }
        try (output) {
            Cgroup cgroup;
            try {
                cgroup = cgroups.create(cgroupName(request.executionId()), CgroupLimits.of(type));
            } catch (IOException | RuntimeException e) {
                return sandboxError("cannot create the cgroup: " + e);
            }
            boolean empty = false;
            processesGone[0] = false;
            try {
                RunOutcome outcome = runInCgroup(request, layout, cgroup, handle, entry, layer, uid.uid());
                empty = outcome.cgroupEmpty;
                return outcome.result;
            } finally {
                cgroup.dispose(empty, CLEANUP_TIMEOUT);
                processesGone[0] = empty;
            }
        }
    }

    private record RunOutcome(ExecutionResult result, boolean cgroupEmpty) {
    }

    private RunOutcome runInCgroup(ExecutionRequest request, WorkDirLayout layout, Cgroup cgroup,
                                   ExecutionHandle handle, long entry, Layer layer, int hostUid) {
        JobType type = request.jobType();
        if (!handle.attach(cgroup)) return new RunOutcome(cancelled(null, "", "", false, false, entry, entry), true);

        UserNetwork.Setup network = null;
        if (type.networkEnabled()) {
            try {
                network = new UserNetwork(config.setpriv(), root).prepare(type.network(), List.of(), layout.etc());
            } catch (IOException e) {
                return new RunOutcome(sandboxError("cannot give the sandbox its network: " + e.getMessage()), true);
            }
        }
        List<String> argv = command.build(layout, cgroup.procsFiles(), hostUid, network,
                type.environment(), type.tmpSizeBytes(), layer, List.of(), rlimits(request));
        ProcessBuilder pb = new ProcessBuilder(argv)
                .directory(new File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // nothing of the server's environment reaches even bwrap itself
        pb.environment().clear();
        pb.environment().putAll(SPAWN_ENV);

        Process process;
        try {
            process = handle.spawn(() -> Spawner.start(pb));
        } catch (IOException e) {
            return new RunOutcome(sandboxError("cannot start bwrap: " + e.getMessage()), false);
        }
        long spawned = System.nanoTime();
        if (process == null) return new RunOutcome(cancelled(null, "", "", false, false, entry, spawned), true);
        RunOutcome outcome = supervise(request, cgroup, handle, process, entry, spawned, layout.output(),
                layout.artifacts());
        String networkFailure = network == null ? null : UserNetwork.failure(layout.etc());
        if (networkFailure != null && outcome.result.status() == JobStatus.FAILED && outcome.result.error() != null
                && outcome.result.error().type() != ErrorType.SANDBOX_ERROR) {
            return new RunOutcome(sandboxError(networkFailure), outcome.cgroupEmpty);
        }
        return outcome;
    }

    /**
     * From the start of the job (a cold spawn, or a warm sandbox's go signal, at {@code spawned}) to its result:
     * captures stdout/stderr, enforces the wall timeout, kills what is left, reads {@code outputDir} back into
     * {@code artifactsDir} and classifies.
     */
    private RunOutcome supervise(ExecutionRequest request, Cgroup cgroup, ExecutionHandle handle, Process process,
                                 long entry, long spawned, Path outputDir, Path artifactsDir) {
        SandboxSupervisor.Ended ended = SandboxSupervisor.watch(request, cgroup, handle, process, entry, spawned);
        if (ended.result() != null) return new RunOutcome(ended.result(), ended.cgroupEmpty());
        return new RunOutcome(SandboxSupervisor.collectAndClassify(request, ended, outputDir, artifactsDir), true);
    }


    /** The rlimits of {@code request}'s sandbox (cold and warm alike). */
    private SandboxRlimits rlimits(ExecutionRequest request) {
        return SandboxRlimits.forJob(request.outputLimits().maxOutputDirBytes(), request.jobType().tmpSizeBytes(),
                SandboxRlimits.processes(request.jobType().pidsLimit(), root));
    }


    static String withWarnings(String stderr, List<String> warnings) {
        return SandboxSupervisor.withWarnings(stderr, warnings);
    }

    /** Execution ids become directory names; anything unusual is hashed instead of trusted. */
    static String cgroupName(String executionId) {
        if (SAFE_ID.matcher(executionId).matches()) return executionId;
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(executionId.getBytes(StandardCharsets.UTF_8));
            return "x-" + HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ExecutionResult cancelled(Integer exitCode, String stdout, String stderr, boolean outTrunc,
                                             boolean errTrunc, long entry, long spawned) {
        return cancelled(exitCode, stdout, stderr, outTrunc, errTrunc, entry, spawned, spawned);
    }

    private static ExecutionResult cancelled(Integer exitCode, String stdout, String stderr, boolean outTrunc,
                                             boolean errTrunc, long entry, long spawned, long exited) {
        return new ExecutionResult(JobStatus.CANCELLED, exitCode, stdout, stderr, outTrunc, errTrunc, null,
                new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_EXECUTION),
                TimeUnit.NANOSECONDS.toMillis(spawned - entry), TimeUnit.NANOSECONDS.toMillis(exited - spawned),
                List.of());
    }

    private static ExecutionResult sandboxError(String message) {
        log.warn("sandbox error: {}", message);
        return ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR, message,
                JobError.PHASE_SETUP));
    }

    @Override
    public void cancel(String executionId) {
        ExecutionHandle h = handles.computeIfAbsent(executionId, k -> ExecutionHandle.cancelledBeforeStart());
        h.cancel();
        // forget cancels whose execution never came
        handles.entrySet().removeIf(e -> e.getValue().isCancelled() && !e.getValue().isStarted()
                && e.getValue().ageNanos() > PENDING_CANCEL_TTL.toNanos());
    }

    /**
     * Destroys the warm pools' sandboxes, kills what still runs, then removes Kiln's parent cgroup if it is empty.
     */
    @Override
    public void close() {
        if (pools != null) pools.shutdown();
        handles.values().forEach(ExecutionHandle::cancel);
        // The executing threads reap and remove their own cgroups; wait for that so the parent can go too.
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        while (handles.values().stream().anyMatch(ExecutionHandle::holdsCgroup) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (pools != null) pools.awaitTermination(POOL_CLOSE_WAIT);
        cgroups.close();
        claim.close();
    }
}
