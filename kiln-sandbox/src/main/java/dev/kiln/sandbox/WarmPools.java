package dev.kiln.sandbox;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per job type, a small pool of pre-spawned {@link WarmSandbox}es, refilled in the background. Pools are keyed by
 * the job type's name; a pool serves only requests whose type definition and layer digest equal the ones it was
 * configured with (a redefined type gets a new pool and the old one drains). Taking never blocks: an empty pool, a
 * different definition or a job that must start cold is a miss and the executor starts cold.
 * <p>
 * Before a pool serves jobs with input files, a probe (the pool's exact sandbox, run once with {@code python -vv})
 * lists the module names the interpreter looks up in {@code /input} during start-up (here: {@code encodings},
 * {@code sitecustomize}, {@code usercustomize} and what host {@code .pth} files import). A cold interpreter would
 * find a job's input file of such a name at start-up; a warm one started before the file existed, so such a job
 * starts cold.
 */
final class WarmPools {
    private static final Logger log = LoggerFactory.getLogger(WarmPools.class);
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PROBE_RETRY = Duration.ofSeconds(30);
    private static final long BACKOFF_BASE_MS = 250;
    private static final long BACKOFF_MAX_MS = 30_000;
    static final String PROBE_MARKER = "kiln-startup-probe-main";
    private static final String PROBE_CODE = "import sys\nsys.stderr.write('" + PROBE_MARKER + "\\n')\n";
    private static final String PROBE_TRYING = "# trying /input/";
    private static final Pattern CODING = Pattern.compile("^[ \\t\\f]*#.*?coding[:=][ \\t]*([-\\w.]+)");

    private final WarmSandbox.Context ctx;
    private final ExecutorService workers;
    private final ScheduledExecutorService timer;
    // guarded by this
    private final Map<String, Pool> pools = new HashMap<>();
    private final Map<String, Counters> counters = new TreeMap<>();
    private int pendingDestroys;
    private int runningTasks; // spawns and probes: they may still create a sandbox
    private boolean closed;
    private final Set<WarmSandbox> live = ConcurrentHashMap.newKeySet();

    /** Cumulative per type name. */
    private static final class Counters {
        long hits, misses, ineligible, discards, expired, spawnFailures, refills, refillMillisTotal, lastRefillMillis;
    }

    /** One definition of one job type. All mutable state is guarded by the enclosing {@link WarmPools}. */
    private final class Pool {
        final JobType type;
        final String digest;
        final Counters counters;
        PoolSettings settings;
        final ArrayDeque<WarmSandbox> idle = new ArrayDeque<>();
        int starting;
        boolean draining;
        Set<String> startupNames; // null until the probe has run
        boolean probing;
        long probeRetryAt;
        int failures;
        long retryAt;
        ScheduledFuture<?> retryTask;
        volatile long outputBytes = OutputLimits.DEFAULTS.maxOutputDirBytes();

        Pool(JobType type, String digest, PoolSettings settings, Counters counters) {
            this.type = type;
            this.digest = digest;
            this.settings = settings;
            this.counters = counters;
            this.retryAt = System.nanoTime(); // nanoTime has an arbitrary origin: compare differences only
            this.probeRetryAt = retryAt;
        }

        boolean serves(ExecutionRequest r) {
            return type.equals(r.jobType()) && Objects.equals(digest, r.layerDigest());
        }
    }

    WarmPools(WarmSandbox.Context ctx) throws IOException {
        this.ctx = ctx;
        Path dir = ctx.dir();
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_711);
        // a crashed run's sandboxes: their processes died with it (--die-with-parent) and their cgroups were removed
        // as stale by the executor; their /output mounts and dirs are left
        if (ctx.root()) OutputMount.unmountStale(dir, ctx.config().umount());
        try (var entries = Files.list(dir)) {
            entries.forEach(LayerFiles::deleteQuietly);
        }
        this.workers = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("kiln-warm-", 0).factory());
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("kiln-warm-timer").factory());
    }

    // ---------------------------------------------------------------- configuration

    synchronized void configure(JobType type, String digest, PoolSettings settings) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(settings, "settings");
        if (closed) throw new IllegalStateException("the executor is closed");
        Pool old = pools.get(type.name());
        if (old != null && old.type.equals(type) && Objects.equals(old.digest, digest) && settings.enabled()) {
            old.settings = settings;
            while (old.idle.size() > settings.size()) destroyLater(old.idle.pollLast());
            // an explicit call (e.g. once the layer is built) retries at once whatever the back-off said
            old.failures = 0;
            old.retryAt = System.nanoTime();
            old.probeRetryAt = old.retryAt;
            refill(old);
            return;
        }
        if (old != null) {
            drain(old);
            pools.remove(type.name());
        }
        if (!settings.enabled()) return;
        Counters c = counters.computeIfAbsent(type.name(), k -> new Counters());
        Pool p = new Pool(type, digest, settings, c);
        pools.put(type.name(), p);
        log.info("warm pool for job type '{}'{}: {} sandbox(es), refill concurrency {}, idle ttl {}", type.name(),
                digest == null ? "" : " (layer " + digest + ")", settings.size(), settings.refillConcurrency(),
                settings.idleTtl());
        refill(p);
    }

    private void drain(Pool p) {
        p.draining = true;
        if (p.retryTask != null) p.retryTask.cancel(false);
        while (!p.idle.isEmpty()) destroyLater(p.idle.pollFirst());
        // starting ones are destroyed when they become ready (or fail)
    }

    // ---------------------------------------------------------------- taking

    /**
     * A ready sandbox for the request, or null (a miss when the type has a pool). The caller either runs the job in
     * it ({@link #hit}), or reports it dead ({@link #discard}); either way it ends with {@link #release}.
     */
    WarmSandbox take(ExecutionRequest request) {
        Pool p;
        String reason;
        synchronized (this) {
            if (closed) return null;
            p = pools.get(request.jobType().name());
            if (p == null) return null;
            if (!p.serves(request)) {
                p.counters.misses++;
                return null;
            }
            reason = coldReason(request.spec(), p.startupNames);
            if (reason != null) {
                p.counters.misses++;
                p.counters.ineligible++;
                if (p.startupNames == null) refill(p); // (re)starts the probe
            }
        }
        if (reason != null) {
            log.debug("execution {} starts cold: {}", request.executionId(), reason);
            return null;
        }
        p.outputBytes = request.outputLimits().maxOutputDirBytes();
        List<WarmSandbox> dead = new ArrayList<>();
        WarmSandbox taken = null;
        synchronized (this) {
            WarmSandbox s;
            while ((s = p.idle.pollFirst()) != null) {
                s.cancelExpiry();
                if (s.isAlive()) {
                    taken = s;
                    break;
                }
                p.counters.discards++;
                dead.add(s);
            }
            if (taken == null) p.counters.misses++;
            dead.forEach(this::destroyLater);
            refill(p);
        }
        return taken;
    }

    /** The go signal ({@link WarmSandbox#go}); longer code is finished on the pools' threads. */
    void go(WarmSandbox s, byte[] code) throws IOException {
        s.go(code, this::submit);
    }

    /** The job runs in {@code s}. */
    synchronized void hit(WarmSandbox s) {
        Counters c = counters.get(s.type().name());
        if (c != null) c.hits++;
    }

    /** {@code s} was dead at hand-over; the caller tries the next one or starts cold. */
    void discard(WarmSandbox s, String why) {
        log.info("{} discarded at hand-over: {}", s, why);
        synchronized (this) {
            Counters c = counters.get(s.type().name());
            if (c != null) c.discards++;
        }
    }

    /** The end of a taken sandbox: destroyed in the background (its job's result is already complete). */
    void release(WarmSandbox s) {
        synchronized (this) {
            destroyLater(s);
        }
    }

    /**
     * Why a job must start cold to behave exactly as cold, or null. {@code startupNames} null: the probe has not run
     * yet, so only jobs without input files are safe.
     */
    static String coldReason(JobSpec spec, Set<String> startupNames) {
        String code = spec.code() == null ? "" : spec.code();
        if (declaresNonUtf8Encoding(code)) {
            return "the code declares a non-UTF-8 source encoding (CPython then re-reads the file by seeking, which "
                    + "a pipe cannot)";
        }
        List<String> names = new ArrayList<>();
        for (String f : spec.files().keySet()) names.add(f);
        if (spec.inputDataJson() != null) names.add("data.json");
        if (names.isEmpty()) return null;
        if (startupNames == null) return "the start-up probe of the pool has not run yet";
        for (String name : names) {
            String top = name.contains("/") ? name.substring(0, name.indexOf('/')) : name;
            String stem = top.contains(".") ? top.substring(0, top.indexOf('.')) : top;
            if (startupNames.contains(stem)) {
                return "input file " + name + " would be imported by the interpreter at start-up";
            }
        }
        return null;
    }

    /** A PEP 263 declaration on line 1 or 2 that the interpreter does not treat as UTF-8 (it needs a seekable file). */
    static boolean declaresNonUtf8Encoding(String code) {
        String text = code.startsWith("\uFEFF") ? code.substring(1) : code;
        String[] lines = text.split("\r\n|\r|\n", 3);
        for (int i = 0; i < Math.min(2, lines.length); i++) {
            Matcher m = CODING.matcher(lines[i]);
            if (m.find()) {
                String enc = m.group(1).toLowerCase(Locale.ROOT).replace('_', '-');
                return !(enc.equals("utf-8") || enc.startsWith("utf-8-"));
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- refilling

    /** Starts what the pool lacks, within its refill concurrency and back-off. Called with the lock held. */
    private void refill(Pool p) {
        if (closed || p.draining) return;
        long now = System.nanoTime();
        if (p.startupNames == null && !p.probing && now - p.probeRetryAt >= 0) {
            p.probing = true;
            runTask(() -> probe(p));
        }
        int missing = p.settings.size() - p.idle.size() - p.starting;
        if (missing <= 0) return;
        if (now - p.retryAt < 0) {
            if (p.retryTask == null || p.retryTask.isDone()) {
                p.retryTask = timer.schedule(() -> {
                    synchronized (WarmPools.this) {
                        refill(p);
                    }
                }, p.retryAt - now, TimeUnit.NANOSECONDS);
            }
            return;
        }
        int n = Math.min(missing, p.settings.refillConcurrency() - p.starting);
        for (int i = 0; i < n; i++) {
            p.starting++;
            runTask(() -> spawn(p));
        }
    }

    /** Called with the lock held. */
    private void runTask(Runnable task) {
        runningTasks++;
        submit(() -> {
            try {
                task.run();
            } finally {
                synchronized (WarmPools.this) {
                    runningTasks--;
                    WarmPools.this.notifyAll();
                }
            }
        });
    }

    private void submit(Runnable task) {
        try {
            workers.execute(task);
        } catch (RejectedExecutionException e) {
            task.run();
        }
    }

    private void spawn(Pool p) {
        long start = System.nanoTime();
        WarmSandbox s = null;
        String failure = null;
        try {
            s = WarmSandbox.start(ctx, p.type, p.digest, p.outputBytes, null, List.of());
            live.add(s);
            WarmSandbox sandbox = s;
            s.process().onExit().thenRun(() -> submit(() -> exited(p, sandbox)));
            ScheduledFuture<?> timeout = timer.schedule(sandbox::abandon, READY_TIMEOUT.toMillis(),
                    TimeUnit.MILLISECONDS);
            synchronized (this) {
                if (closed || p.draining) s.abandon();
            }
            boolean ready = s.awaitReady();
            timeout.cancel(false);
            if (!ready) {
                failure = s.isAlive() ? "not ready within " + READY_TIMEOUT.toSeconds() + " s"
                        : "exited during start-up (" + exitText(s) + ")";
            }
        } catch (IOException | RuntimeException e) {
            failure = e.toString();
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        synchronized (this) {
            p.starting--;
            if (failure != null) {
                boolean quiet = closed || p.draining;
                if (!quiet) {
                    p.counters.spawnFailures++;
                    p.failures++;
                    long backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS << Math.min(16, p.failures - 1));
                    p.retryAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
                    if (p.failures <= 3) {
                        log.warn("warm sandbox for job type '{}' failed to start ({}); retrying in {} ms",
                                p.type.name(), failure, backoff);
                    } else {
                        log.debug("warm sandbox for job type '{}' failed to start ({})", p.type.name(), failure);
                    }
                }
                if (s != null) destroyLater(s);
            } else if (closed || p.draining) {
                destroyLater(s);
            } else {
                p.failures = 0;
                p.counters.refills++;
                p.counters.refillMillisTotal += millis;
                p.counters.lastRefillMillis = millis;
                WarmSandbox ready = s;
                s.expiry(timer.schedule(() -> expire(p, ready), p.settings.idleTtl().toMillis(),
                        TimeUnit.MILLISECONDS));
                p.idle.addLast(s);
                if (!s.isAlive()) { // died between the rendezvous and now: its exit callback may have missed it
                    p.idle.remove(s);
                    p.counters.discards++;
                    destroyLater(s);
                }
            }
            refill(p);
        }
    }

    private static String exitText(WarmSandbox s) {
        try {
            return "exit code " + s.process().exitValue();
        } catch (IllegalThreadStateException e) {
            return "still running";
        }
    }

    /** The process of {@code s} ended: if it was waiting in the pool, it is replaced; if starting, released. */
    private void exited(Pool p, WarmSandbox s) {
        boolean wasIdle;
        synchronized (this) {
            wasIdle = p.idle.remove(s);
            if (wasIdle) {
                p.counters.discards++;
                destroyLater(s);
                refill(p);
            }
        }
        if (wasIdle) {
            log.info("{} died while waiting in the pool ({}); replacing it", s, exitText(s));
        } else if (!s.isReady()) {
            s.abandon();
        }
    }

    private void expire(Pool p, WarmSandbox s) {
        synchronized (this) {
            if (!p.idle.remove(s)) return;
            p.counters.expired++;
            destroyLater(s);
            refill(p);
        }
    }

    /** Called with the lock held. */
    private void destroyLater(WarmSandbox s) {
        pendingDestroys++;
        submit(() -> {
            try {
                s.destroy();
            } catch (RuntimeException e) {
                log.error("cannot destroy {}", s, e);
            } finally {
                live.remove(s);
                synchronized (WarmPools.this) {
                    pendingDestroys--;
                    WarmPools.this.notifyAll();
                }
            }
        });
    }

    // ---------------------------------------------------------------- start-up probe

    private void probe(Pool p) {
        Set<String> names = null;
        try {
            names = probeStartupNames(p);
            log.info("job type '{}': the interpreter looks up {} in /input at start-up; jobs with such input files "
                    + "start cold", p.type.name(), names);
        } catch (IOException | RuntimeException e) {
            boolean quiet;
            synchronized (this) {
                quiet = closed || p.draining;
            }
            if (!quiet) {
                log.warn("start-up probe for job type '{}' failed ({}); its jobs with input files start cold until "
                        + "it succeeds", p.type.name(), e.toString());
            }
        }
        synchronized (this) {
            p.probing = false;
            if (names != null) {
                p.startupNames = names;
            } else {
                p.probeRetryAt = System.nanoTime() + PROBE_RETRY.toNanos();
            }
        }
    }

    /** Runs the pool's sandbox once, cold, as {@code python -vv -u /code/main.py}; reads what it tried in /input. */
    private Set<String> probeStartupNames(Pool p) throws IOException {
        WarmSandbox s = WarmSandbox.start(ctx, p.type, p.digest, p.outputBytes, PROBE_CODE, List.of("-vv"));
        live.add(s);
        try {
            BoundedCapture out = new BoundedCapture(s.process().getInputStream(), 1 << 16).start("kiln-probe-out");
            BoundedCapture err = new BoundedCapture(s.process().getErrorStream(), 16 << 20).start("kiln-probe-err");
            boolean exited;
            try {
                exited = s.process().waitFor(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
            if (!exited) throw new IOException("the probe did not finish within " + PROBE_TIMEOUT.toSeconds() + " s");
            out.await(Duration.ofSeconds(5));
            err.await(Duration.ofSeconds(5));
            if (s.process().exitValue() != 0 || err.truncated()) {
                throw new IOException("the probe exited with " + s.process().exitValue() + ": "
                        + ResultClassifier.lastNonEmptyLine(err.text()));
            }
            return parseProbe(err.text());
        } finally {
            s.destroy();
            live.remove(s);
        }
    }

    static Set<String> parseProbe(String stderr) throws IOException {
        Set<String> names = new TreeSet<>();
        for (String line : stderr.split("\n")) {
            if (line.equals(PROBE_MARKER)) return names;
            if (!line.startsWith(PROBE_TRYING)) continue;
            String rest = line.substring(PROBE_TRYING.length());
            int end = rest.length();
            for (char c : new char[]{'/', '.'}) {
                int i = rest.indexOf(c);
                if (i >= 0) end = Math.min(end, i);
            }
            if (end > 0) names.add(rest.substring(0, end));
        }
        throw new IOException("the probe's output lacks its marker");
    }

    // ---------------------------------------------------------------- stats, shutdown

    synchronized List<WarmPoolStats> stats() {
        List<WarmPoolStats> out = new ArrayList<>();
        counters.forEach((name, c) -> {
            Pool p = pools.get(name);
            out.add(new WarmPoolStats(name, p == null ? null : p.digest, p == null ? 0 : p.settings.size(),
                    p == null ? 0 : p.idle.size(), p == null ? 0 : p.starting, c.hits, c.misses, c.ineligible,
                    c.discards, c.expired, c.spawnFailures, c.refills, c.refillMillisTotal, c.lastRefillMillis));
        });
        return out;
    }

    /** For tests: the ready sandboxes of a type, oldest first. */
    synchronized List<WarmSandbox> ready(String typeName) {
        Pool p = pools.get(typeName);
        return p == null ? List.of() : List.copyOf(p.idle);
    }

    /** For tests: what the type's probe found (null: not run yet). */
    synchronized Set<String> startupNames(String typeName) {
        Pool p = pools.get(typeName);
        return p == null ? null : p.startupNames;
    }

    /** For tests: nothing is being destroyed or probed. */
    synchronized boolean idle() {
        return pendingDestroys == 0 && runningTasks == 0;
    }

    /** Stops refilling and destroys every sandbox not in use; sandboxes in use go when their execution ends. */
    void shutdown() {
        List<WarmSandbox> starting = new ArrayList<>();
        synchronized (this) {
            if (closed) return;
            closed = true;
            pools.values().forEach(this::drain);
            pools.clear();
            for (WarmSandbox s : live) if (!s.isReady()) starting.add(s);
        }
        starting.forEach(WarmSandbox::abandon);
    }

    /** Waits (at most {@code timeout}) until every sandbox is destroyed, then stops the background threads. */
    void awaitTermination(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean interrupted = false;
        synchronized (this) {
            while ((pendingDestroys > 0 || runningTasks > 0 || !live.isEmpty()) && System.nanoTime() < deadline) {
                try {
                    wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (!live.isEmpty()) log.error("{} warm sandbox(es) not destroyed within {}", live.size(), timeout);
        }
        timer.shutdownNow();
        workers.shutdown();
        if (interrupted) Thread.currentThread().interrupt();
    }
}
