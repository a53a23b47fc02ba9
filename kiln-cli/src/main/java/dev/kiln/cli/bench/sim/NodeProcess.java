package dev.kiln.cli.bench.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code kiln node} as a separate JVM: {@code --orchestrator URLS --node-id ID --data-dir <dir>/data} plus the
 * caller's flags, run in {@code dir}, its output in {@code <dir>/node.log}. {@code URLS} is passed as given, one URL or
 * a comma-separated list. A node owns the cgroup parent {@code kiln-<id>}; what a killed one leaves of it is removed
 * on {@link #close()}.
 */
public final class NodeProcess implements AutoCloseable {
    private static final Pattern CONNECTED = Pattern.compile("connected to (\\S+)");

    private final Process process;
    private final String nodeId;
    private final String orchestrators;
    private final Path log;
    private final Thread killOnExit;

    private NodeProcess(Process process, String nodeId, String orchestrators, Path log) {
        this.process = process;
        this.nodeId = nodeId;
        this.orchestrators = orchestrators;
        this.log = log;
        this.killOnExit = new Thread(process::destroyForcibly, "kiln-bench-node-kill");
        Runtime.getRuntime().addShutdownHook(killOnExit);
    }

    public static NodeProcess start(Path dir, String nodeId, String orchestrators, List<String> jvmArgs,
                                    String... nodeArgs) throws IOException {
        Files.createDirectories(dir);
        List<String> args = new ArrayList<>(List.of("node", "--orchestrator", orchestrators, "--node-id", nodeId,
                "--data-dir", dir.resolve("data").toString()));
        args.addAll(List.of(nodeArgs));
        Path log = dir.resolve("node.log");
        return new NodeProcess(KilnJvm.builder(dir, jvmArgs, args, log).start(), nodeId, orchestrators, log);
    }

    public String nodeId() {
        return nodeId;
    }

    /** The {@code --orchestrator} value it was started with. */
    public String orchestrators() {
        return orchestrators;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    /** Its exit code; only once it is not {@link #alive()}. */
    public int exitValue() {
        return process.exitValue();
    }

    public Path log() {
        return log;
    }

    public String tail(int lines) {
        return KilnJvm.tail(log, lines);
    }

    /** The URL of the last "node ... connected to URL" line of its log; null before the first. */
    public String lastConnectedUrl() {
        String url = null;
        try {
            for (String line : Files.readAllLines(log)) {
                if (!line.contains("node " + nodeId + " connected to ")) continue;
                Matcher m = CONNECTED.matcher(line);
                if (m.find()) url = m.group(1);
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            return null; // not written yet, or not text
        }
        return url;
    }

    /** SIGTERM (the node says goodbye), then SIGKILL after 10 s; then its cgroup parent's remains are removed. */
    @Override
    public void close() {
        KilnJvm.stop(process, killOnExit, "kiln-" + nodeId);
    }
}
