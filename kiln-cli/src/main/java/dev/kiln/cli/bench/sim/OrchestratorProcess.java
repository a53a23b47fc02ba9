package dev.kiln.cli.bench.sim;

import dev.kiln.sandbox.BwrapConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
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
    private final Thread killOnExit;

    private OrchestratorProcess(Process process, String url, Path log) {
        this.process = process;
        this.url = url;
        this.log = log;
        // A bench stopped with Ctrl-C must not leave the orchestrator running.
        this.killOnExit = new Thread(process::destroyForcibly, "kiln-bench-orchestrator-kill");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    /**
     * Starts {@code java --enable-native-access=ALL-UNNAMED -cp <class path> dev.kiln.cli.Main server --host
     * 127.0.0.1 --port P --data-dir <dir>/data} plus {@code serverArgs}, in {@code dir} (so no ./kiln.yaml of the
     * caller's is read), on a free port.
     */
    public static OrchestratorProcess start(Path dir, List<String> jvmArgs, String... serverArgs) throws IOException {
        int port = freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", absoluteClassPath(), "dev.kiln.cli.Main", "server",
                "--host", "127.0.0.1", "--port", String.valueOf(port), "--data-dir", dir.resolve("data").toString(),
                // never the parent of a Kiln already running on this host
                "--cgroup-parent", BwrapConfig.throwAwayCgroupParent("kiln-bench")));
        cmd.addAll(List.of(serverArgs));
        Path log = dir.resolve("orchestrator.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("KILN_CONFIG");
        pb.environment().remove("KILN_NODE_JOIN_TOKEN");
        pb.environment().remove("KILN_PORT");
        pb.environment().remove("KILN_HOST");
        pb.environment().remove("KILN_DATA_DIR");
        pb.environment().remove("KILN_EXECUTOR");
        return new OrchestratorProcess(pb.start(), "http://127.0.0.1:" + port, log);
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
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** SIGTERM, then SIGKILL after 10 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException e) {
            // already shutting down
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The process runs in its own directory, so a relative class path (java -jar kiln-cli/target/kiln.jar) must not be. */
    private static String absoluteClassPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(e -> java.nio.file.Path.of(e).toAbsolutePath().toString())
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }
}
