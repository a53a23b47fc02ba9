package dev.kiln.sandbox;

import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One pre-spawned sandbox: its own work dir, /output tmpfs and cgroup (the job type's limits), and a process started
 * with exactly the argv, environment and binds of a cold run ({@code python -u /code/main.py}), except that
 * {@code code/main.py} is a FIFO. The interpreter therefore does its whole start-up (namespaces, cgroup, site,
 * {@code PYTHONPATH}, the layer) and then blocks in {@code open("/code/main.py")} until Kiln opens the FIFO's write
 * end: that rendezvous is the readiness signal. At hand-over Kiln writes the job's input files, replaces the FIFO
 * by a regular file holding the code (what {@code __file__}, tracebacks and SyntaxError lines read later), writes
 * the code into the FIFO and closes it: the interpreter reads to EOF and runs it as the cold interpreter would,
 * because it is the cold interpreter. Used for exactly one job, then destroyed.
 */
final class WarmSandbox {
    private static final Logger log = LoggerFactory.getLogger(WarmSandbox.class);
    static final String CGROUP_PREFIX = "warm-";
    static final Path MKFIFO = Path.of("/usr/bin/mkfifo");
    /** Written before the hand-over returns: it always fits an empty pipe (one page at least), so it never blocks. */
    static final int FIRST_CHUNK = 4096;
    private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    private static final String STAGED_CODE = ".main.py.kiln";

    /** The interpreter was gone before it took any of the code: nothing of the job ran, a cold start may follow. */
    static final class GoneException extends IOException {
        GoneException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final String id;
    private final WorkDirLayout layout;
    private final JobType type;
    private final OutputMount output;
    private final OutputMount view;
    private final Cgroup cgroup;
    private final LayerLease lease;
    private final SandboxUids.Lease uid;
    private final Process process;
    private final FileTime inputMtime;
    private final long fileSizeLimit;
    private final AtomicBoolean destroyed = new AtomicBoolean();
    // guarded by this. A stream, not a FileChannel: an interrupt of the executing thread must not close it.
    private FileOutputStream writer;
    private boolean ready;
    private boolean abandoned;
    private RandomAccessFile readEnd; // see holdReadEnd
    private boolean readEndClosed;
    private volatile java.util.concurrent.ScheduledFuture<?> expiry;

    private WarmSandbox(String id, WorkDirLayout layout, JobType type, OutputMount output, OutputMount view,
                        Cgroup cgroup, LayerLease lease, SandboxUids.Lease uid, Process process, FileTime inputMtime,
                        long fileSizeLimit) {
        this.view = view;
        this.id = id;
        this.layout = layout;
        this.type = type;
        this.output = output;
        this.cgroup = cgroup;
        this.lease = lease;
        this.uid = uid;
        this.process = process;
        this.inputMtime = inputMtime;
        this.fileSizeLimit = fileSizeLimit;
    }

    /** What every sandbox of one executor is started with. */
    record Context(BwrapConfig config, boolean root, Cgroups cgroups, BwrapCommand command, LayerStore layers,
                   Path dir, SandboxUids uids) {
    }

    /**
     * Lays out a fresh work dir under {@code ctx.dir()}, mounts /output ({@code outputBytes}), creates the cgroup,
     * leases the layer ({@code digest}, null: none) and starts the process. {@code probeCode} non-null: a plain
     * {@code main.py} with that code run with {@code interpreterFlags} (Kiln's start-up probe), else the FIFO.
     */
    static WarmSandbox start(Context ctx, JobType type, String digest, long outputBytes, String probeCode,
                             List<String> interpreterFlags) throws IOException {
        String id = UUID.randomUUID().toString().substring(0, 12);
        WorkDirLayout layout = WorkDirLayout.of(ctx.dir().resolve(id));
        OutputMount output = null;
        OutputMount view = null;
        Cgroup cgroup = null;
        LayerLease lease = null;
        SandboxUids.Lease uid = null;
        boolean ok = false;
        try {
            Layer layer = null;
            if (digest != null) {
                if (ctx.layers() == null || !LayerDigest.isDigest(digest)) {
                    throw new IOException("layer " + digest + " is not available to this executor");
                }
                lease = ctx.layers().acquire(digest);
                layer = ctx.layers().find(digest)
                        .orElseThrow(() -> new IOException("layer " + digest + " is not built"));
            }
            layout.prepareView();
            view = OutputMount.prepareView(layout.view(), ctx.root(), ctx.config().mount(), ctx.config().umount());
            layout.prepareEmpty();
            if (probeCode != null) {
                WorkDirLayout.writeFile(layout.mainPy(), WorkDirLayout.codeBytes(probeCode));
            } else {
                var made = HostCommand.run(List.of(MKFIFO.toString(), "-m", "0644", layout.mainPy().toString()),
                        TOOL_TIMEOUT);
                if (!made.ok()) throw new IOException("mkfifo " + layout.mainPy() + " failed: " + made.output());
            }
            FileTime inputMtime = Files.getLastModifiedTime(layout.input());
            uid = ctx.uids().lease();
            output = OutputMount.prepare(layout.output(), outputBytes, uid.uid(), ctx.config().mount(),
                    ctx.config().umount());
            cgroup = ctx.cgroups().create(CGROUP_PREFIX + id, CgroupLimits.of(type));
            SandboxRlimits rlimits = SandboxRlimits.forJob(outputBytes, type.tmpSizeBytes(),
                    SandboxRlimits.processes(type.pidsLimit(), ctx.root()));
            UserNetwork.Setup network = type.networkEnabled()
                    ? new UserNetwork(ctx.config().setpriv(), ctx.root()).prepare(type.network(), List.of(), layout.etc())
                    : null;
            List<String> argv = ctx.command().build(layout, cgroup.procsFiles(), uid.uid(), network,
                    type.environment(), type.tmpSizeBytes(), layer, interpreterFlags, rlimits);
            ProcessBuilder pb = new ProcessBuilder(argv)
                    .directory(new File("/"))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().clear();
            pb.environment().putAll(BwrapExecutor.SPAWN_ENV);
            Process process = Spawner.start(pb);
            ok = true;
            return new WarmSandbox(id, layout, type, output, view, cgroup, lease, uid, process, inputMtime,
                    rlimits.fileSizeBytes());
        } finally {
            if (!ok) {
                // Spawner.start failed or was never reached: no process ran as the uid
                if (cgroup != null) cgroup.dispose(false, CLEANUP_TIMEOUT);
                if (uid != null) uid.release(true);
                if (output != null) output.close();
                if (view != null) view.close();
                LayerFiles.deleteQuietly(layout.root());
                if (lease != null) lease.close();
            }
        }
    }

    String id() {
        return id;
    }

    /** The RLIMIT_FSIZE it was started with (fixed for its life; a job needing more starts elsewhere). */
    long fileSizeLimit() {
        return fileSizeLimit;
    }

    JobType type() {
        return type;
    }

    Cgroup cgroup() {
        return cgroup;
    }

    Process process() {
        return process;
    }

    WorkDirLayout layout() {
        return layout;
    }

    void expiry(java.util.concurrent.ScheduledFuture<?> f) {
        expiry = f;
    }

    void cancelExpiry() {
        var f = expiry;
        if (f != null) f.cancel(false);
    }

    /**
     * Blocks until the interpreter has opened {@code /code/main.py} (its start-up is done) and holds the write end.
     * Returns false when the sandbox was abandoned or died first.
     */
    boolean awaitReady() {
        FileOutputStream ch;
        try {
            ch = new FileOutputStream(layout.mainPy().toFile()); // O_TRUNC and O_CREAT do nothing to a FIFO
        } catch (IOException e) {
            return false;
        }
        synchronized (this) {
            if (abandoned || destroyed.get()) {
                closeQuietly(ch);
                return false;
            }
            writer = ch;
            ready = true;
        }
        return process.isAlive();
    }

    synchronized boolean isReady() {
        return ready;
    }

    /**
     * Gives up on a sandbox that is not ready (start-up timeout, death, shutdown): kills it and releases the thread
     * in {@link #awaitReady}, which waits (or is about to wait) for a reader of the FIFO that will never come.
     */
    void abandon() {
        synchronized (this) {
            if (ready || abandoned) return;
            abandoned = true;
        }
        cgroup.signalKill();
        holdReadEnd();
    }

    /**
     * Opens the FIFO O_RDWR (never blocks on Linux, and counts as a reader) and keeps it open until {@link #destroy}:
     * the opener in {@link #awaitReady} returns whether it is blocked already or only gets there later. (Opening and
     * closing at once released only an opener already blocked: one that came later, with the interpreter killed,
     * blocked forever, and its sandbox was never destroyed.)
     */
    private void holdReadEnd() {
        RandomAccessFile f;
        try {
            f = new RandomAccessFile(layout.mainPy().toFile(), "rw");
        } catch (IOException e) {
            log.debug("cannot open {} to release its opener: {}", layout.mainPy(), e.toString());
            return;
        }
        synchronized (this) {
            if (readEnd == null && !readEndClosed) {
                readEnd = f;
                return;
            }
        }
        closeQuietly(f);
    }

    private void closeReadEnd() {
        RandomAccessFile f;
        synchronized (this) {
            f = readEnd;
            readEnd = null;
            readEndClosed = true;
        }
        if (f != null) closeQuietly(f);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Writes the job into the work dir the sandbox sees: input files (exactly as a cold run lays them out), /output
     * resized to the request's cap, then {@code code/main.py} as a regular file in place of the FIFO (atomic rename;
     * the interpreter already holds the FIFO open).
     */
    void writeJob(JobSpec spec, long outputBytes, Path mount) throws IOException {
        layout.writeInputs(spec.inputDataJson(), spec.files());
        // The interpreter listed /input at start-up (importlib's FileFinder caches the listing per directory mtime).
        // Writing files changes the mtime, unless it happens within the same coarse clock tick: make sure it moved.
        if (Files.getLastModifiedTime(layout.input()).equals(inputMtime)) {
            Files.setLastModifiedTime(layout.input(), FileTime.fromMillis(inputMtime.toMillis() + 1));
        }
        output.resize(outputBytes, mount);
        Path staged = layout.code().resolve(STAGED_CODE);
        WorkDirLayout.writeFile(staged, WorkDirLayout.codeBytes(spec.code()));
        Files.move(staged, layout.mainPy(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * The go signal: writes {@code code} into the FIFO and closes it (EOF). The first {@link #FIRST_CHUNK} bytes
     * are written here; a failure there means the interpreter is gone and ran nothing ({@link GoneException}).
     * Longer code is finished by {@code workers}, while the caller already times the job.
     */
    void go(byte[] code, Executor workers) throws IOException {
        FileOutputStream w;
        synchronized (this) {
            w = writer;
        }
        if (w == null || !process.isAlive()) throw new GoneException("warm sandbox " + id + " is not alive", null);
        int first = Math.min(code.length, FIRST_CHUNK);
        try {
            // at most PIPE_BUF bytes into an empty pipe: all of it lands, or EPIPE (no reader) and none of it
            w.write(code, 0, first);
        } catch (IOException e) {
            throw new GoneException("warm sandbox " + id + " took no code (" + e.getMessage() + ")", e);
        }
        if (first == code.length) {
            closeWriter();
            return;
        }
        workers.execute(() -> {
            try {
                w.write(code, first, code.length - first);
            } catch (IOException e) {
                // killed, timed out, or a SyntaxError stopped the reading: the process's exit says what happened
            } finally {
                closeWriter();
            }
        });
    }

    private void closeWriter() {
        FileOutputStream w;
        synchronized (this) {
            w = writer;
            writer = null;
        }
        if (w != null) closeQuietly(w);
    }

    private static void closeQuietly(Closeable ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // a pipe
        }
    }

    /**
     * Kills everything, then removes the cgroup, unmounts /output, deletes the work dir and releases the layer.
     * Idempotent; never throws.
     */
    void destroy() {
        if (!destroyed.compareAndSet(false, true)) return;
        cancelExpiry();
        boolean empty = cgroup.killAndAwaitEmpty(CLEANUP_TIMEOUT);
        boolean wasReady;
        synchronized (this) {
            wasReady = ready;
            abandoned |= !ready;
        }
        if (!wasReady) holdReadEnd();
        process.destroyForcibly();
        try {
            if (!process.waitFor(CLEANUP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.error("warm sandbox {}: process {} did not exit", id, process.pid());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeWriter();
        closeStreams();
        cgroup.dispose(empty, CLEANUP_TIMEOUT);
        output.close();
        view.close();
        uid.release(empty);
        LayerFiles.deleteQuietly(layout.root());
        closeReadEnd(); // after the FIFO is gone: a later opener fails instead of blocking
        if (lease != null) lease.close();
    }

    private void closeStreams() {
        try {
            process.getInputStream().close();
            process.getErrorStream().close();
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // pipes
        }
    }

    @Override
    public String toString() {
        return "warm sandbox " + id + " (" + type.name() + ")";
    }
}
