package dev.kiln.cli.cluster;

import dev.kiln.cli.Main;
import java.io.File;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/**
 * Real Kiln processes for cluster tests: an orchestrator ({@code kiln server}) and compute nodes
 * ({@code kiln node --orchestrator URL}), each a JVM of its own on loopback, killed with SIGKILL when a test wants
 * a crash. Logs go to files next to their data directories.
 */
public final class KilnProcesses implements AutoCloseable {
    private final Path dir;
    private final List<Process> started = new ArrayList<>();
    private final HttpClient http = HttpClient.newHttpClient();

    // one per test class, kept across an orchestrator's restarts like a real deployment's
    private final String cgroupParent = dev.kiln.sandbox.BwrapConfig.throwAwayCgroupParent("kiln-it");

    public KilnProcesses(Path dir) {
        this.dir = dir;
    }

    /** A server on {@code port} with the data dir {@code data}; {@code args} are extra flags. */
    private final java.util.Set<Path> dataDirs = java.util.concurrent.ConcurrentHashMap.newKeySet();
    // nodes started with --node-id: their cgroup parent is kiln-<id>, left behind when killed with SIGKILL
    private final java.util.Set<String> nodeIds = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public Process server(Path data, int port, String logName, String... args) throws IOException {
        return serverWithEnv(java.util.Map.of(), data, port, logName, args);
    }

    /** {@link #server} with extra environment variables. */
    public Process serverWithEnv(java.util.Map<String, String> env, Path data, int port, String logName,
                                 String... args) throws IOException {
        dataDirs.add(data);
        List<String> cmd = new ArrayList<>(List.of("server", "--host", "127.0.0.1", "--port", String.valueOf(port),
                "--data-dir", data.toString(), "--cgroup-parent", cgroupParent));
        cmd.addAll(List.of(args));
        return start(logName, cmd, env);
    }

    /** A compute node dialing {@code url}; {@code args} are extra flags (executor, slots, labels, transport). */
    public Process node(String url, Path data, String logName, String... args) throws IOException {
        dataDirs.add(data);
        int idFlag = List.of(args).indexOf("--node-id");
        if (idFlag >= 0 && idFlag + 1 < args.length) nodeIds.add(args[idFlag + 1]);
        List<String> cmd = new ArrayList<>(List.of("node", "--orchestrator", url, "--data-dir", data.toString()));
        cmd.addAll(List.of(args));
        return start(logName, cmd, java.util.Map.of());
    }

    private Process start(String logName, List<String> args, java.util.Map<String, String> env) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().remove("KILN_CONFIG");
        pb.environment().remove("KILN_NODE_JOIN_TOKEN");
        pb.environment().putAll(env);
        File log = dir.resolve(logName + ".log").toFile();
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log));
        Process p = pb.start();
        synchronized (started) {
            started.add(p);
        }
        return p;
    }

    public String log(String logName) throws IOException {
        Path p = dir.resolve(logName + ".log");
        return Files.exists(p) ? Files.readString(p) : "";
    }

    public static void kill9(Process p) throws InterruptedException {
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no goodbye
        p.waitFor();
    }

    /** Waits for {@code server} to answer /health; fails at once, with its log, if it died. */
    public void awaitHealthy(String url, Process server, String logName) throws IOException {
        try {
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .ignoreExceptions().until(() -> {
                        if (!server.isAlive()) throw new IllegalStateException("exited " + server.exitValue());
                        return get(url + "/health").statusCode() == 200;
                    });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("server " + logName + " did not become healthy (alive: " + server.isAlive()
                    + "); its log:\n" + log(logName), e);
        }
        if (!server.isAlive()) throw new AssertionError("server " + logName + " exited; its log:\n" + log(logName));
    }

    public HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The sum of a Prometheus counter over its labels matching {@code labelFilter} (a regex; ".*" for all). */
    public double metric(String url, String name, String labelFilter) throws IOException, InterruptedException {
        String text = get(url + "/metrics").body();
        Matcher m = Pattern.compile("(?m)^" + name + "(\\{[^}]*})? ([0-9.Ee+-]+)$").matcher(text);
        double sum = 0;
        while (m.find()) {
            String labels = m.group(1) == null ? "" : m.group(1);
            if (labels.matches(".*" + labelFilter + ".*")) sum += Double.parseDouble(m.group(2));
        }
        return sum;
    }

    /**
     * Removes what a node killed with SIGKILL could not: its cgroup tree under {@code parent} in every controller
     * and the lock file of its claim on that parent
     * (its sandboxes died with it; a node restarted with the same id would clean up itself).
     */
    public static void removeCgroups(String parent) throws IOException {
        Files.deleteIfExists(dev.kiln.sandbox.CgroupParentClaim.lockFile(parent)); // its claim's empty lock file
        Path root = Path.of("/sys/fs/cgroup");
        if (!Files.isDirectory(root)) return;
        try (var controllers = Files.list(root)) {
            for (Path controller : controllers.toList()) {
                Path tree = controller.resolve(parent);
                if (!Files.isDirectory(tree)) continue;
                try (var dirs = Files.walk(tree)) {
                    // cgroup directories are removed with rmdir (their control files go with them), deepest first
                    for (Path d : dirs.filter(Files::isDirectory).sorted(java.util.Comparator.reverseOrder())
                            .toList()) {
                        d.toFile().delete();
                    }
                }
            }
        }
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException {
        List<Process> all;
        synchronized (started) {
            all = new ArrayList<>(started);
        }
        for (Process p : all) p.destroy();
        for (Process p : all) {
            if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) kill9(p);
        }
        // What processes killed with SIGKILL left outside the test's temp dir: work dirs (and mounts, from one
        // without a mount namespace of its own).
        for (Path d : dataDirs) {
            try {
                dev.kiln.node.WorkRoots.discardFallbackRoot(d);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        try {
            removeCgroups(cgroupParent); // an orchestrator killed last had no chance to
            for (String id : nodeIds) removeCgroups("kiln-" + id); // nor a node killed last
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
