package dev.kiln.sandbox;

import dev.kiln.core.PackageSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Pre-built, content-addressed Python environments ("layers") in one directory:
 * <pre>
 * &lt;root&gt;/&lt;digest&gt;/            0755, root-owned, never changed once renamed into place
 *     layer.properties             manifest: digest, interpreter path and version, requirements, shared names
 *     build.log                    pip's output
 *     site/                        pip install --target (mounted read-only at /kiln/site)
 *     shared/                      shared code, when the spec has any (mounted read-only at /kiln/shared)
 * &lt;root&gt;/&lt;digest&gt;.failed.log      the log of the last failed build of that digest
 * &lt;root&gt;/.build-&lt;digest&gt;-&lt;rand&gt;/  a build in progress (staging; renamed atomically to &lt;digest&gt;)
 * </pre>
 * pip runs in a bubblewrap sandbox of its own (a uid of its own, read-only /usr, only the staging dirs writable, Kiln's
 * copies of the wheel directories read-only, network only when an index is consulted) inside a cgroup under Kiln's parent, with a
 * memory limit and a wall timeout. Builds of the same digest are serialized (the second reuses the first's layer);
 * executions hold a {@link LayerLease} so {@link #removeUnused} and {@link #removeIfUnleased} never remove a layer in
 * use. A layer directory's mtime is when it was last {@linkplain #markUsed used} (else built), for collectors that
 * age layers out.
 */
public final class LayerStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LayerStore.class);
    /** {@link BuildOutcome#log()} holds at most the last this many characters of the build log. */
    public static final int MAX_LOG_IN_OUTCOME = 1 << 20;
    static final String MANIFEST = "layer.properties";
    static final String BUILD_LOG = "build.log";
    static final String SITE = "site";
    static final String SHARED = "shared";
    static final String BUILD_PREFIX = ".build-";
    static final String TRASH_PREFIX = ".trash-";
    static final String FAILED_LOG_SUFFIX = ".failed.log";
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(15);

    private final Path root;
    private final BwrapConfig config;
    private final PipSources sources;
    private final LayerBuildLimits limits;
    private final PythonInterpreters interpreters;
    private final boolean privileged;
    private final Cgroups cgroups;
    private final CgroupParentClaim claim;
    private final LayerBuildSandbox sandbox;
    private final ConcurrentHashMap<String, ReentrantLock> buildLocks = new ConcurrentHashMap<>();
    // digest -> number of open leases; also the lock removeUnused and acquire share
    private final Map<String, Integer> leases = new HashMap<>();
    private final Set<Path> activeStaging = ConcurrentHashMap.newKeySet();
    private final List<Consumer<String>> lastLeaseListeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    /** With {@link LayerBuildLimits#DEFAULTS} (2 GiB, 1024 pids, no CPU quota, 10 minutes). */
    public LayerStore(Path root, BwrapConfig config, PipSources sources) {
        this(root, config, sources, LayerBuildLimits.DEFAULTS);
    }

    /**
     * Creates {@code root} (0755) and Kiln's parent cgroup ({@code config.cgroupParent()}, shared with the executor;
     * build cgroups are named {@code layer-build-*}), and removes what a crashed run left (staging dirs, build
     * cgroups).
     *
     * @throws IllegalStateException    when bwrap/setpriv are missing, the root is not reachable by the sandbox user
     *                                  (an ancestor lacks o+x), or there is no usable cgroup hierarchy
     * @throws IllegalArgumentException when a find-links path is missing or not readable by Kiln (the build gets a
     *                                  copy: the sandbox user needs no access to it)
     */
    public LayerStore(Path root, BwrapConfig config, PipSources sources, LayerBuildLimits limits) {
        this.root = root.toAbsolutePath().normalize();
        this.config = config;
        this.sources = sources == null ? PipSources.DEFAULT : sources;
        this.limits = limits == null ? LayerBuildLimits.DEFAULTS : limits;
        if (!Files.isExecutable(config.bwrap())) {
            throw new IllegalStateException(BwrapExecutor.BWRAP_MISSING + " (looked for " + config.bwrap() + ")");
        }
        this.privileged = Privileges.isRoot();
        if (privileged && !Files.isExecutable(config.setpriv())) {
            throw new IllegalStateException("setpriv (util-linux) not found at " + config.setpriv());
        }
        this.interpreters = new PythonInterpreters(config.python());
        try {
            Files.createDirectories(this.root);
            Files.setPosixFilePermissions(this.root, WorkDirLayout.DIR_755);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the layer directory " + this.root + ": " + e, e);
        }
        if (privileged) {
            Path blocker = LayerFiles.firstUntraversable(this.root);
            if (blocker != null) {
                throw new IllegalStateException("the layer directory " + this.root + " is not reachable by the sandbox "
                        + "user (uid " + Privileges.SANDBOX_UID + "): " + blocker
                        + " lacks the search permission for others (chmod o+x)");
            }
        }
        for (Path p : this.sources.findLinks()) checkFindLinks(p);
        this.claim = CgroupParentClaim.claim(config.cgroupParent());
        try {
            this.cgroups = CgroupDetector.detect(config.cgroupRoot(), config.cgroupParent());
            this.sandbox = new LayerBuildSandbox(config, cgroups, this.sources, this.limits, privileged,
                    SandboxUids.forHost(config, privileged));
            removeStaleBuilds();
        } catch (RuntimeException e) {
            claim.close();
            throw e;
        }
    }

    /**
     * Kiln itself must be able to read it: builds get a copy ({@link PackageSourceStaging}), so the sandbox's uid
     * needs no access to the source, and its permissions are never changed.
     */
    private static void checkFindLinks(Path p) {
        if (!Files.exists(p)) throw new IllegalArgumentException("pip find-links path " + p + " does not exist");
        if (!Files.isReadable(p) || Files.isDirectory(p) && !Files.isExecutable(p)) {
            throw new IllegalArgumentException("pip find-links path " + p + " is not readable by Kiln");
        }
    }

    private void removeStaleBuilds() {
        sandbox.removeStale();
        for (Path p : list()) {
            String name = p.getFileName().toString();
            if (name.startsWith(BUILD_PREFIX) || name.startsWith(TRASH_PREFIX)) LayerFiles.deleteQuietly(p);
        }
    }

    /** For tests: the sandbox builds run in. */
    LayerBuildSandbox sandbox() {
        return sandbox;
    }

    public Path root() {
        return root;
    }

    public PipSources sources() {
        return sources;
    }

    /** The interpreters layers may use (e.g. to check a {@code python_version} before saving a job type). */
    public PythonInterpreters interpreters() {
        return interpreters;
    }

    /** What a spec resolves to on this host. */
    private record Resolved(String digest, PythonInterpreters.Interpreter interpreter, List<String> requirements,
                            List<SharedCode.Entry> shared, byte[] sharedHash) {
    }

    /**
     * The layer's content digest (64 hex chars): sha256 over the interpreter (real path, full version), the
     * requirements in order, the shared code (names, kinds and bytes, directories walked in sorted order,
     * {@code __pycache__} skipped), and, when there are requirements, pip's version and sources (urls, find-links
     * paths with the name, size and mtime of each file in them, no_index). Reads every shared file.
     *
     * @throws IllegalArgumentException when the spec cannot be built here: no matching interpreter (or it lacks pip),
     *                                  a requirement that is blank or starts with '-', shared code that is missing,
     *                                  relative, a symlink or contains one
     */
    public String digest(PackageSpec spec) {
        return resolve(spec).digest();
    }

    private Resolved resolve(PackageSpec spec) {
        PythonInterpreters.Interpreter interpreter = interpreters.resolve(spec.pythonVersion());
        List<String> requirements = checkRequirements(spec.requirements());
        String pip = "";
        if (!requirements.isEmpty()) {
            pip = interpreters.pipVersion(interpreter);
            if (pip.isEmpty()) {
                throw new IllegalArgumentException("python " + interpreter.version() + " (" + interpreter.path()
                        + ") has no pip to install requirements with (Debian: apt-get install python3-pip)");
            }
        }
        List<SharedCode.Entry> shared = SharedCode.entries(spec.sharedCode());
        byte[] sharedHash = null;
        if (!shared.isEmpty()) {
            try {
                sharedHash = SharedCode.hash(shared);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the shared code: " + e, e);
            }
        }
        String digest = LayerDigest.compute(interpreter, PythonInterpreters.realPath(interpreter.path()), pip,
                requirements, sharedHash, sources);
        return new Resolved(digest, interpreter, requirements, shared, sharedHash);
    }

    static List<String> checkRequirements(List<String> requirements) {
        List<String> out = new ArrayList<>();
        for (String r : requirements) {
            String s = r == null ? "" : r.strip();
            if (s.isEmpty()) throw new IllegalArgumentException("a requirement must not be blank");
            if (s.startsWith("-")) {
                throw new IllegalArgumentException("requirement '" + s + "' looks like a pip option; options are not allowed");
            }
            if (s.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                throw new IllegalArgumentException("requirement '" + s.replaceAll("\\p{Cntrl}", "?")
                        + "' contains control characters");
            }
            out.add(s);
        }
        return out;
    }

    /** The built layer of that digest, if it is here (a digest that is not 64 lowercase hex chars finds nothing). */
    /**
     * Whether the layer is built: one stat, for the orchestration's per-job checks. Layers are renamed into place
     * complete and never change, so the directory's presence is the answer; {@link #find} reads the layer.
     */
    public boolean exists(String digest) {
        return LayerDigest.isDigest(digest) && Files.isDirectory(root.resolve(digest), LinkOption.NOFOLLOW_LINKS);
    }

    public Optional<Layer> find(String digest) {
        if (!LayerDigest.isDigest(digest)) return Optional.empty();
        Path dir = root.resolve(digest);
        Path manifest = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(manifest, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(manifest, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            log.warn("layer {} has an unreadable manifest: {}", digest, e.toString());
            return Optional.empty();
        }
        String python = p.getProperty("python.path", "");
        String version = p.getProperty("python.version", "");
        if (!LayerDigest.FORMAT.equals(p.getProperty("format")) || !digest.equals(p.getProperty("digest"))
                || !Path.of(python).normalize().startsWith("/usr/") || version.isEmpty()) {
            log.warn("layer {} has a manifest that does not describe it", digest);
            return Optional.empty();
        }
        Path site = dir.resolve(SITE);
        if (!Files.isDirectory(site, LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        Path shared = dir.resolve(SHARED);
        return Optional.of(new Layer(digest, dir, site,
                Files.isDirectory(shared, LinkOption.NOFOLLOW_LINKS) ? shared : null,
                new PythonInterpreters.Interpreter(Path.of(python), version)));
    }

    /**
     * Makes sure the spec's layer exists. When it does, returns at once ({@code ranPip=false}); when another thread
     * builds the same digest, waits for it and reuses its layer. Otherwise builds it in a staging dir (pip in its own
     * sandbox, its output line by line to {@code logLine} and {@code build.log}; then the shared code, the manifest,
     * fsync) and renames that into place. A failure leaves only {@code <digest>.failed.log}; other layers are never
     * touched. Never throws for a failed build.
     *
     * @param logLine receives each line of the build's output (may be null); it is called on the thread reading
     *                pip's output, so it must be quick (a slow one slows pip down)
     * @throws IllegalArgumentException when {@link #digest} does
     */
    public BuildOutcome build(PackageSpec spec, Consumer<String> logLine) {
        long start = System.nanoTime();
        Resolved r = resolve(spec);
        Optional<Layer> existing = find(r.digest());
        if (existing.isPresent()) return reused(existing.get(), start);
        ReentrantLock lock = buildLocks.computeIfAbsent(r.digest(), k -> new ReentrantLock());
        try {
            lock.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new BuildOutcome(r.digest(), false, false, null, "", "interrupted while waiting for another build "
                    + "of the same layer", millisSince(start));
        }
        try {
            existing = find(r.digest());
            if (existing.isPresent()) return reused(existing.get(), start);
            if (closed) {
                return new BuildOutcome(r.digest(), false, false, null, "", "the layer store is closed", millisSince(start));
            }
            return buildLocked(r, logLine, start);
        } finally {
            lock.unlock();
        }
    }

    private static BuildOutcome reused(Layer layer, long start) {
        return new BuildOutcome(layer.digest(), true, false, layer, "layer " + layer.digest() + " is already built\n",
                null, millisSince(start));
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    private static String randomSuffix() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    private BuildOutcome buildLocked(Resolved r, Consumer<String> logLine, long start) {
        String digest = r.digest();
        Path staging = root.resolve(BUILD_PREFIX + digest + "-" + randomSuffix());
        activeStaging.add(staging);
        BuildLog buildLog = null;
        boolean ranPip = false;
        try {
            Files.createDirectory(staging);
            Files.setPosixFilePermissions(staging, WorkDirLayout.DIR_755);
            buildLog = new BuildLog(staging.resolve(BUILD_LOG), logLine);
            buildLog.line("[kiln] building layer " + digest + ": python " + r.interpreter().version() + " ("
                    + r.interpreter().path() + "), " + r.requirements().size() + " requirement(s), "
                    + r.shared().size() + " shared code entr" + (r.shared().size() == 1 ? "y" : "ies"));
            log.info("building layer {} ({} requirement(s))", digest, r.requirements().size());
            Path site = staging.resolve(SITE);
            LayerFiles.mkdir(site);
            if (!r.requirements().isEmpty()) {
                ranPip = true;
                String error = runPip(r, staging, site, buildLog);
                if (error != null) return failed(digest, staging, buildLog, ranPip, error, start);
                sandbox.finishSite(site, buildLog);
            }
            if (!r.shared().isEmpty()) {
                Path shared = staging.resolve(SHARED);
                LayerFiles.mkdir(shared);
                List<SharedCode.Entry> copied = SharedCode.copy(r.shared(), shared);
                if (!Arrays.equals(SharedCode.hash(copied), r.sharedHash())) {
                    return failed(digest, staging, buildLog, ranPip,
                            "the shared code changed while it was being copied; build again", start);
                }
                buildLog.line("[kiln] copied shared code: " + String.join(", ", r.shared().stream()
                        .map(SharedCode.Entry::name).toList()));
            }
            writeManifest(staging.resolve(MANIFEST), r);
            buildLog.line("[kiln] layer " + digest + " built in " + millisSince(start) + " ms");
            buildLog.close();
            LayerFiles.makeDurable(staging);
            Path target = root.resolve(digest);
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                log.info("layer {} appeared meanwhile (another process built it); using that one", digest);
            }
            LayerFiles.fsyncDirectory(root);
            Files.deleteIfExists(root.resolve(digest + FAILED_LOG_SUFFIX));
            Optional<Layer> layer = find(digest);
            if (layer.isEmpty()) return failed(digest, staging, buildLog, ranPip, "the built layer cannot be read back", start);
            long ms = millisSince(start);
            log.info("built layer {} in {} ms", digest, ms);
            return new BuildOutcome(digest, true, ranPip, layer.get(),
                    BuildLog.readTail(target.resolve(BUILD_LOG), MAX_LOG_IN_OUTCOME), null, ms);
        } catch (IOException | RuntimeException e) {
            log.error("layer {} build failed inside Kiln", digest, e);
            return failed(digest, staging, buildLog, ranPip, "layer build failed inside Kiln: " + e, start);
        } finally {
            LayerFiles.deleteQuietly(staging);
            activeStaging.remove(staging);
        }
    }

    /** Records the failure: the log becomes {@code <digest>.failed.log} (replacing an older one). */
    private BuildOutcome failed(String digest, Path staging, BuildLog buildLog, boolean ranPip, String error, long start) {
        log.warn("layer {} build failed: {}", digest, error);
        Path failedLog = root.resolve(digest + FAILED_LOG_SUFFIX);
        String text = "";
        try {
            Path source;
            if (buildLog != null) {
                buildLog.line("[kiln] layer build failed: " + error);
                buildLog.close();
                source = buildLog.file();
            } else {
                source = staging.resolveSibling(staging.getFileName() + ".log");
                Files.writeString(source, "[kiln] layer build failed: " + error + "\n", StandardCharsets.UTF_8);
            }
            Files.setPosixFilePermissions(source, WorkDirLayout.FILE_644);
            Files.move(source, failedLog, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            text = BuildLog.readTail(failedLog, MAX_LOG_IN_OUTCOME);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot keep the failed build log of layer {}: {}", digest, e.toString());
        }
        return new BuildOutcome(digest, false, ranPip, null, text, error, millisSince(start));
    }

    /** Runs pip in the build sandbox; returns null on success, else the error. */
    private String runPip(Resolved r, Path staging, Path site, BuildLog buildLog) throws IOException {
        LayerBuildCommand.Dirs dirs = sandbox.prepare(staging, site);
        try {
            if (!sources.findLinks().isEmpty()) {
                PackageSourceStaging.Staged staged;
                try {
                    staged = PackageSourceStaging.stage(sources.findLinks(), staging);
                } catch (IOException e) {
                    return "cannot copy the find-links sources for the build: " + e.getMessage();
                }
                for (String s : staged.skipped()) buildLog.line("[kiln] find-links: skipped " + s);
                dirs = dirs.withFindLinks(staged.dirs());
            }
            List<String> pip = LayerBuildCommand.pipInstall(r.interpreter(), sources, r.requirements());
            buildLog.line("[kiln] $ " + String.join(" ", pip));
            return sandbox.run(dirs, pip, buildLog, "pip install");
        } finally {
            LayerFiles.deleteQuietly(dirs.tmp());
            LayerFiles.deleteQuietly(dirs.etc());
            LayerFiles.deleteQuietly(staging.resolve(PackageSourceStaging.DIR));
        }
    }

    private void writeManifest(Path file, Resolved r) throws IOException {
        Properties p = new Properties();
        p.setProperty("format", LayerDigest.FORMAT);
        p.setProperty("digest", r.digest());
        p.setProperty("python.path", r.interpreter().path().toString());
        p.setProperty("python.version", r.interpreter().version());
        p.setProperty("requirements", Integer.toString(r.requirements().size()));
        for (int i = 0; i < r.requirements().size(); i++) p.setProperty("requirement." + i, r.requirements().get(i));
        p.setProperty("shared", Integer.toString(r.shared().size()));
        for (int i = 0; i < r.shared().size(); i++) p.setProperty("shared." + i, r.shared().get(i).name());
        p.setProperty("built", Instant.now().toString());
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, "Kiln layer");
        }
        Files.setPosixFilePermissions(file, WorkDirLayout.FILE_644);
    }

    /**
     * Marks the layer as in use until the lease is closed; {@link #removeUnused} leaves it alone meanwhile. Take the
     * lease before {@link #find} so the layer cannot go in between. The layer need not exist.
     *
     * @throws IllegalArgumentException when {@code digest} is not 64 lowercase hex chars
     */
    public LayerLease acquire(String digest) {
        if (!LayerDigest.isDigest(digest)) throw new IllegalArgumentException("not a layer digest: " + digest);
        synchronized (leases) {
            leases.merge(digest, 1, Integer::sum);
        }
        return new LayerLease(this, digest);
    }

    void release(String digest) {
        boolean last;
        synchronized (leases) {
            last = leases.computeIfPresent(digest, (k, n) -> n <= 1 ? null : n - 1) == null;
        }
        if (last) {
            for (Consumer<String> listener : lastLeaseListeners) {
                try {
                    listener.accept(digest);
                } catch (RuntimeException e) {
                    log.warn("a last-lease listener failed for layer {}", digest, e);
                }
            }
        }
    }

    /**
     * Calls {@code listener} with a digest each time its last open lease closes (e.g. so a layer waiting to be
     * removed can go now). It runs on the thread closing the lease, outside the store's locks: it must be quick.
     */
    public void onLastLeaseClosed(Consumer<String> listener) {
        lastLeaseListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Records that the layer was used at {@code at}, as its directory's mtime (nothing inside changes, so nothing
     * else moves it; it survives restarts). False when there is no such layer.
     */
    public boolean markUsed(String digest, Instant at) {
        if (!exists(digest)) return false;
        try {
            Files.setLastModifiedTime(root.resolve(digest), FileTime.from(at));
            return true;
        } catch (IOException e) {
            // removed meanwhile, or the disk refuses: either way nothing to mark
            log.debug("cannot mark layer {} used: {}", digest, e.toString());
            return false;
        }
    }

    /** When the layer was last {@linkplain #markUsed marked used}, else when it was built; empty when absent. */
    public Optional<Instant> lastUsed(String digest) {
        if (!exists(digest)) return Optional.empty();
        try {
            return Optional.of(Files.getLastModifiedTime(root.resolve(digest), LinkOption.NOFOLLOW_LINKS).toInstant());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Removes one layer unless a lease holds it: true when it was removed, false when it is leased or absent. Atomic
     * with {@link #acquire}: once a lease is taken the layer stays.
     */
    public boolean removeIfUnleased(String digest) {
        if (!LayerDigest.isDigest(digest)) return false;
        Path trash;
        synchronized (leases) {
            if (leases.containsKey(digest) || !exists(digest)) return false;
            trash = moveToTrash(root.resolve(digest));
        }
        if (trash == null) return false;
        LayerFiles.deleteQuietly(trash);
        return true;
    }

    /** Out of sight at once (no new lease can find it), to be deleted outside the lock; null when it cannot move. */
    private Path moveToTrash(Path layer) {
        String name = layer.getFileName().toString();
        Path trash = root.resolve(TRASH_PREFIX + name + "-" + randomSuffix());
        try {
            Files.move(layer, trash, StandardCopyOption.ATOMIC_MOVE);
            return trash;
        } catch (IOException e) {
            log.warn("cannot remove layer {}: {}", name, e.toString());
            return null;
        }
    }

    /** The log of the digest's last failed build (its last {@link #MAX_LOG_IN_OUTCOME} characters), if any. */
    public Optional<String> failedLog(String digest) {
        if (!LayerDigest.isDigest(digest)) return Optional.empty();
        Path file = root.resolve(digest + FAILED_LOG_SUFFIX);
        return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                ? Optional.of(BuildLog.readTail(file, MAX_LOG_IN_OUTCOME)) : Optional.empty();
    }

    /** Open leases on the digest. */
    public int leaseCount(String digest) {
        synchronized (leases) {
            return leases.getOrDefault(digest, 0);
        }
    }

    /** Digests of the layers present, sorted. */
    public List<String> digests() {
        return list().stream().map(p -> p.getFileName().toString())
                .filter(n -> LayerDigest.isDigest(n) && Files.isDirectory(root.resolve(n), LinkOption.NOFOLLOW_LINKS))
                .sorted().toList();
    }

    /**
     * Removes every layer whose digest is not in {@code keep} and has no open lease, and the leftovers of builds
     * (staging dirs of no running build, failed logs of digests not kept). Returns how many layers it removed.
     */
    public int removeUnused(Set<String> keep) {
        List<Path> doomed = new ArrayList<>();
        int removed = 0;
        synchronized (leases) {
            for (Path p : list()) {
                String name = p.getFileName().toString();
                if (LayerDigest.isDigest(name) && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    if (keep.contains(name) || leases.containsKey(name)) continue;
                    Path trash = moveToTrash(p);
                    if (trash != null) {
                        doomed.add(trash);
                        removed++;
                    }
                } else if (name.startsWith(BUILD_PREFIX) && !activeStaging.contains(p)
                        && activeStaging.stream().noneMatch(s -> name.startsWith(s.getFileName().toString()))) {
                    doomed.add(p);
                } else if (name.startsWith(TRASH_PREFIX)) {
                    doomed.add(p);
                } else if (name.endsWith(FAILED_LOG_SUFFIX)
                        && !keep.contains(name.substring(0, name.length() - FAILED_LOG_SUFFIX.length()))) {
                    doomed.add(p);
                }
            }
        }
        doomed.forEach(LayerFiles::deleteQuietly);
        if (removed > 0) log.info("removed {} unused layer(s)", removed);
        return removed;
    }

    private List<Path> list() {
        try (Stream<Path> s = Files.list(root)) {
            return s.toList();
        } catch (IOException e) {
            log.warn("cannot list the layer directory {}: {}", root, e.toString());
            return List.of();
        }
    }

    /**
     * Stops running builds (they fail) and waits briefly for them to clean up. Kiln's parent cgroup is left to the
     * executor sharing it ({@link BwrapExecutor#close} removes it when empty).
     */
    @Override
    public void close() {
        closed = true;
        sandbox.close();
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        while (!activeStaging.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        claim.close();
    }
}
