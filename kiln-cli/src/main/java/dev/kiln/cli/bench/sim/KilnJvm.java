package dev.kiln.cli.bench.sim;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What the bench's separate Kiln processes ({@link OrchestratorProcess}, {@link NodeProcess}) share: the command
 * line ({@code java --enable-native-access=ALL-UNNAMED <jvm options> -cp <this JVM's class path> dev.kiln.cli.Main
 * ...}), an environment without the caller's Kiln settings, and removing what a process killed with SIGKILL left
 * of its cgroup parent.
 */
public final class KilnJvm {
    /** The caller's Kiln settings that must not reach a bench process: it is configured by its flags alone. */
    private static final List<String> SCRUBBED = List.of("KILN_CONFIG", "KILN_NODE_JOIN_TOKEN", "KILN_PORT",
            "KILN_HOST", "KILN_DATA_DIR", "KILN_EXECUTOR", "KILN_STORE", "KILN_CGROUP_PARENT");

    private KilnJvm() {
    }

    /** {@code java ... dev.kiln.cli.Main <args>} run in {@code dir} (no ./kiln.yaml of the caller's is read). */
    static ProcessBuilder builder(Path dir, List<String> jvmArgs, List<String> args, Path log) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", absoluteClassPath(), "dev.kiln.cli.Main"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = pb.environment();
        SCRUBBED.forEach(env::remove);
        return pb;
    }

    /** The process runs in its own directory, so a relative class path (java -jar kiln-cli/target/kiln.jar) must not be. */
    static String absoluteClassPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(Collectors.joining(File.pathSeparator));
    }

    /** The last lines of a log file. */
    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /**
     * Removes what a Kiln process killed with SIGKILL could not: its cgroup tree under {@code parent} in every
     * controller and the lock file of its claim on that parent (its sandboxes died with it). Only for a parent whose
     * process is gone: the lock is how a live one holds it.
     */
    /**
     * SIGTERM, then SIGKILL after 10 s; drops its kill-on-exit hook; then, once it is gone, removes what a killed one
     * left of its cgroup parent.
     */
    static void stop(Process process, Thread killOnExit, String cgroupParent) {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
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
        if (!process.isAlive()) removeCgroups(cgroupParent);
    }

    public static void removeCgroups(String parent) {
        try {
            Files.deleteIfExists(dev.kiln.sandbox.CgroupParentClaim.lockFile(parent));
        } catch (IOException | RuntimeException ignored) {
            // an empty lock file left behind is harmless
        }
        Path root = Path.of("/sys/fs/cgroup");
        if (!Files.isDirectory(root)) return;
        List<Path> trees = new ArrayList<>();
        Path unified = root.resolve(parent);
        if (Files.isDirectory(unified)) trees.add(unified); // cgroup v2
        try (var controllers = Files.list(root)) {
            for (Path c : controllers.toList()) {
                Path tree = c.resolve(parent);
                if (!tree.equals(unified) && Files.isDirectory(tree)) trees.add(tree); // cgroup v1
            }
        } catch (IOException ignored) {
            return;
        }
        for (Path tree : trees) {
            try (var dirs = Files.walk(tree)) {
                // cgroup directories are removed with rmdir (their control files go with them), deepest first
                for (Path d : dirs.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList()) {
                    d.toFile().delete();
                }
            } catch (IOException | java.io.UncheckedIOException ignored) {
                // gone meanwhile
            }
        }
    }
}
