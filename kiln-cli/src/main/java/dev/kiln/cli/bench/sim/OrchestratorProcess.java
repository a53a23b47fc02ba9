package dev.kiln.cli.bench.sim;

import dev.kiln.sandbox.BwrapConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code kiln server} as a separate JVM on loopback, started with this JVM's java binary and class path, so what it
 * costs (CPU, memory) can be read from {@code /proc} apart from the bench's own. Its output goes to a log file.
 */
public final class OrchestratorProcess implements AutoCloseable {
    private final Process process;
    private final String url;
    private final Path log;
    private final String cgroupParent;
    private final Thread killOnExit;

    private OrchestratorProcess(Process process, String url, Path log, String cgroupParent) {
        this.process = process;
        this.url = url;
        this.log = log;
        this.cgroupParent = cgroupParent;
        // A bench stopped with Ctrl-C must not leave the orchestrator running.
        this.killOnExit = new Thread(process::destroyForcibly, "kiln-bench-orchestrator-kill");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    /**
     * Starts {@code java --enable-native-access=ALL-UNNAMED -cp <class path> dev.kiln.cli.Main server --host
     * 127.0.0.1 --port P --data-dir <dir>/data} plus {@code serverArgs}, in {@code dir} (so no ./kiln.yaml of the
     * caller's is read), on a free port, with a cgroup parent of its own.
     */
    public static OrchestratorProcess start(Path dir, List<String> jvmArgs, String... serverArgs) throws IOException {
        return start(dir, jvmArgs, java.util.Map.of(), serverArgs);
    }

    /** {@link #start(Path, List, String...)} with environment variables (e.g. {@code KILN_STORE}, kept off its argv). */
    public static OrchestratorProcess start(Path dir, List<String> jvmArgs, java.util.Map<String, String> env,
                                            String... serverArgs) throws IOException {
        int port = freePort();
        // never the parent of a Kiln already running on this host
        String cgroupParent = BwrapConfig.throwAwayCgroupParent("kiln-bench");
        List<String> args = new ArrayList<>(List.of("server",
                "--host", "127.0.0.1", "--port", String.valueOf(port), "--data-dir", dir.resolve("data").toString(),
                "--cgroup-parent", cgroupParent));
        args.addAll(List.of(serverArgs));
        Path log = dir.resolve("orchestrator.log");
        ProcessBuilder pb = KilnJvm.builder(dir, jvmArgs, args, log);
        pb.environment().putAll(env);
        Process p = pb.start();
        return new OrchestratorProcess(p, "http://127.0.0.1:" + port, log, cgroupParent);
    }

    public long pid() {
        return process.pid();
    }

    public String url() {
        return url;
    }

    public Path log() {
        return log;
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** The cgroup parent it was given ({@code --cgroup-parent}). */
    public String cgroupParent() {
        return cgroupParent;
    }

    /** SIGKILL: no shutdown hook, no goodbye to its nodes; waits (10 s at most) until it is gone. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Waits for {@code GET /health} to answer 200. */
    public void awaitHealthy(HttpClient http, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpRequest health = HttpRequest.newBuilder(URI.create(url + "/health")).timeout(Duration.ofSeconds(2)).build();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("the orchestrator exited with " + process.exitValue() + " while starting; "
                        + "see " + log + ":\n" + tail(20));
            }
            try {
                if (http.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IOException("the orchestrator did not become healthy within " + timeout.toSeconds() + " s; see "
                + log);
    }

    /** The last lines of its log. */
    public String tail(int lines) {
        return KilnJvm.tail(log, lines);
    }

    /** SIGTERM, then SIGKILL after 10 s; then what a killed one left of its cgroup parent is removed. */
    @Override
    public void close() {
        KilnJvm.stop(process, killOnExit, cgroupParent);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
