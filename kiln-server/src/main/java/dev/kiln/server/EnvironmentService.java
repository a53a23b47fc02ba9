package dev.kiln.server;

import dev.kiln.core.Environments;
import dev.kiln.core.JobRecord;
import dev.kiln.core.OrchestratorEvents;
import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeRegistry;
import dev.kiln.core.KilnException;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.sandbox.BuildOutcome;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.PythonInterpreters;
import dev.kiln.server.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Job-type layers on this host: which layer a job runs on, building them (on first use in development mode, only on
 * request in production mode), their state and logs, and removing layers no type uses any more. The last layer
 * built successfully for each type is remembered on disk, so it stays in use while a newer definition's build runs
 * or has failed, across restarts too.
 */
public final class EnvironmentService implements Environments, OrchestratorEvents, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EnvironmentService.class);

    public record Status(String state, String digest, String activeDigest, String error) {
    }

    public record BuildReport(boolean success, boolean ranPip, long millis, String digest, String log,
                              String error) {
    }

    /** The latest build of a type: its digest, whether it runs, how it ended, and its log so far. */
    private static final class TypeBuild {
        final String digest;
        final StringBuffer log = new StringBuffer();
        volatile boolean running = true;
        volatile String error;

        TypeBuild(String digest) {
            this.digest = digest;
        }
    }

    private final LayerStore layers;
    private final PythonInterpreters interpreters;
    private final JobTypeRegistry registry;
    private final boolean productionMode;
    private final Path activeDir;
    // Digests by package spec, bounded: definitions come and go through the API.
    private final Map<dev.kiln.core.PackageSpec, String> digests = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<dev.kiln.core.PackageSpec, String> eldest) {
                    return size() > 256;
                }
            });
    private final Map<String, TypeBuild> builds = new ConcurrentHashMap<>();
    private final ExecutorService background = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
    private final java.util.List<Runnable> builtListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * @param layers null when this host cannot build layers (no sandbox): remote nodes build their own
     */
    public EnvironmentService(LayerStore layers, PythonInterpreters interpreters, JobTypeRegistry registry,
                              boolean productionMode, Path stateDir) throws IOException {
        this.layers = layers;
        this.interpreters = interpreters;
        this.registry = registry;
        this.productionMode = productionMode;
        this.activeDir = stateDir;
        Files.createDirectories(stateDir);
    }

    /** Checks what can be checked without building: the interpreter exists. */
    public void validate(JobType type) {
        String version = type.packages().pythonVersion();
        if (version == null || interpreters == null) return;
        try {
            interpreters.resolve(version);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("python_version: " + e.getMessage(), "python_version", e.getMessage());
        }
    }

    @Override
    public String digestToRun(JobType type) {
        // Without a sandbox here (an orchestrator without an in-process node) nothing is pinned: each remote node
        // builds and digests the type's layer itself.
        if (!type.needsLayer() || layers == null) return null;
        String desired = digestOf(type);
        if (layers.exists(desired)) return desired;
        String previous = usableActive(type.name());
        TypeBuild b = builds.get(type.name());
        boolean desiredFailed = b != null && !b.running && b.error != null && b.digest.equals(desired);
        if (previous != null && (desiredFailed || productionMode || (b != null && b.running))) return previous;
        if (productionMode) {
            throw new KilnException(409, "job_type_not_built", "job_type", "job type '" + type.name()
                    + "' is not built and production_mode is on: build it with POST /job-types/" + type.name()
                    + "/build (or `kiln job-type build " + type.name() + "`)");
        }
        return desired; // development mode: the node builds it on first use
    }

    @Override
    public long provision(JobType type, String digest) {
        if (layers.exists(digest)) return 0;
        BuildReport r = build(type);
        if (!r.success()) {
            throw new LayerUnavailableException("building job type '" + type.name() + "' failed: " + r.error()
                    + " (log: GET /job-types/" + type.name() + "/build-log)");
        }
        return r.millis();
    }

    /** Builds the type's current definition (a no-op when its layer exists); returns when done. */
    public BuildReport build(JobType type) {
        if (!type.needsLayer()) return new BuildReport(true, false, 0, null, "job type needs no layer\n", null);
        if (layers == null) {
            throw new KilnException(409, "job_type_unavailable", "job_type", "job type '" + type.name() + "' cannot "
                    + "be built here: this server has no sandbox (remote nodes build their own layers)");
        }
        String digest = digestOf(type);
        TypeBuild b = new TypeBuild(digest);
        builds.put(type.name(), b);
        BuildOutcome outcome;
        try {
            outcome = layers.build(type.packages(), line -> b.log.append(line).append('\n'));
        } catch (RuntimeException e) {
            b.error = e.getMessage();
            b.running = false;
            log.error("layer build of job type '{}' failed", type.name(), e);
            return new BuildReport(false, false, 0, digest, b.log.toString(), e.getMessage());
        }
        if (outcome.success()) {
            rememberActive(type.name(), outcome.digest());
            log.info("job type '{}' layer {} ready ({} ms{})", type.name(), outcome.digest(), outcome.millis(),
                    outcome.ranPip() ? "" : ", already built");
        } else {
            b.error = outcome.error();
            log.warn("job type '{}' layer build failed: {}", type.name(), outcome.error());
        }
        if (b.log.isEmpty() && outcome.log() != null) b.log.append(outcome.log());
        b.running = false;
        if (outcome.success()) {
            removeUnusedLayers();
            builtListeners.forEach(Runnable::run);
        }
        return new BuildReport(outcome.success(), outcome.ranPip(), outcome.millis(), outcome.digest(),
                b.log.toString(), outcome.error());
    }

    public boolean isBuilt(String digest) {
        return layers != null && layers.exists(digest);
    }

    /** Called after every successful build (e.g. to pool sandboxes on the new layer). */
    public void onLayerBuilt(Runnable listener) {
        builtListeners.add(listener);
    }

    public void buildAsync(JobType type) {
        background.submit(() -> build(type));
    }

    public Status status(JobType type) {
        if (!type.needsLayer()) return new Status("none", null, null, null);
        if (layers == null) return new Status("unavailable", null, null, "no sandbox on this server");
        String digest = digestOf(type);
        TypeBuild b = builds.get(type.name());
        boolean current = b != null && b.digest.equals(digest);
        String state = layers.exists(digest) ? "built"
                : current && b.running ? "building"
                : current && b.error != null ? "failed" : "not_built";
        return new Status(state, digest, usableActive(type.name()), current ? b.error : null);
    }

    /** The latest build's log (live while it runs). */
    public String log(JobType type) {
        TypeBuild b = builds.get(type.name());
        return b == null ? "no build of job type '" + type.name() + "' since the server started\n" : b.log.toString();
    }

    /**
     * The latest build's log as a stream that follows it: it ends when the build does (at once when none runs).
     */
    public java.io.InputStream followLog(JobType type) {
        TypeBuild b = builds.get(type.name());
        if (b == null || !b.running) return new java.io.ByteArrayInputStream(log(type).getBytes(StandardCharsets.UTF_8));
        return new java.io.InputStream() {
            private int sent; // characters of the log already sent
            private byte[] chunk = new byte[0];
            private int pos;

            @Override
            public int read() throws java.io.IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws java.io.IOException {
                while (pos == chunk.length) {
                    boolean done = !b.running;
                    String text = b.log.toString();
                    if (text.length() > sent) {
                        chunk = text.substring(sent).getBytes(StandardCharsets.UTF_8);
                        sent = text.length();
                        pos = 0;
                    } else if (done) {
                        return -1;
                    } else {
                        try {
                            Thread.sleep(50);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new java.io.InterruptedIOException();
                        }
                    }
                }
                int n = Math.min(len, chunk.length - pos);
                System.arraycopy(chunk, pos, buf, off, n);
                pos += n;
                return n;
            }
        };
    }

    /** A job that ran on a layer no type uses any more was maybe its last user: the layer can go now. */
    @Override
    public void finished(JobRecord job) {
        String used = job.result() == null ? null : job.result().layerDigest();
        if (used == null || layers == null || keptDigests().contains(used)) return;
        background.submit(this::removeUnusedLayers);
    }

    /** Deletes layers that neither a type's current definition nor its last good build uses (and no job holds). */
    void removeUnusedLayers() {
        int removed = layers.removeUnused(keptDigests());
        if (removed > 0) log.info("removed {} unused layer(s)", removed);
    }

    private Set<String> keptDigests() {
        Set<String> keep = new HashSet<>();
        for (JobType t : registry.all()) {
            if (!t.needsLayer()) continue;
            keep.add(digestOf(t));
            Optional.ofNullable(readActive(t.name())).ifPresent(keep::add);
        }
        return keep;
    }

    private String digestOf(JobType type) {
        return digests.computeIfAbsent(type.packages(), layers::digest);
    }

    private String usableActive(String name) {
        String d = readActive(name);
        return d != null && layers.exists(d) ? d : null;
    }

    private String readActive(String name) {
        Path f = activeDir.resolve(name);
        try {
            return Files.exists(f) ? Files.readString(f).strip() : null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void rememberActive(String name, String digest) {
        try {
            Path tmp = activeDir.resolve("." + name + ".tmp");
            Files.writeString(tmp, digest + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, activeDir.resolve(name), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        background.shutdownNow();
    }
}
