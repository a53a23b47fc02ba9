package dev.kiln.server;

import dev.kiln.client.KilnClient;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.SandboxSettings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.UUID;
import java.util.function.UnaryOperator;

/** A real Kiln server on loopback with its own data dir and cgroup parent, for one test class. */
final class TestServer implements AutoCloseable {
    final Path dataDir;
    final KilnServer server;
    final KilnClient client;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    final String cgroupParent;
    private final KilnConfig config;

    private TestServer(Path dataDir, KilnServer server, String cgroupParent, KilnConfig config) {
        this.dataDir = dataDir;
        this.server = server;
        this.cgroupParent = cgroupParent;
        this.config = config;
        this.client = new KilnClient(server.baseUrl());
    }

    static TestServer start(String executor, UnaryOperator<KilnConfig> customise) throws IOException {
        Path dir = Files.createTempDirectory("kiln-test-");
        String parent = "kiln-test-" + UUID.randomUUID().toString().substring(0, 8);
        KilnConfig config = KilnConfig.defaults().withDataDir(dir).withHost("127.0.0.1").withPort(0)
                .withExecutor(executor)
                .withSandbox(new SandboxSettings(SandboxSettings.DEFAULTS.python(), SandboxSettings.DEFAULTS.bwrap(),
                        parent));
        KilnConfig customised = customise.apply(config);
        return new TestServer(dir, KilnServer.start(customised), parent, customised);
    }

    /** Stops this server and starts another on the same data dir and configuration (on a new port). */
    TestServer restarted() throws IOException {
        server.close();
        return new TestServer(dataDir, KilnServer.start(config), cgroupParent, config);
    }

    static boolean bwrapUsable() {
        return Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name"))
                && Files.isDirectory(Path.of("/sys/fs/cgroup"));
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws IOException {
        server.close();
        // Kiln removes every cgroup it created, its parent included.
        for (String c : new String[]{"", "memory", "pids", "cpu", "freezer"}) {
            Path leftover = Path.of("/sys/fs/cgroup", c, cgroupParent);
            if (Files.exists(leftover)) throw new AssertionError("cgroup left behind: " + leftover);
        }
        dev.kiln.node.WorkRoots.discardFallbackRoot(dataDir); // work dirs and layers kept under /var/tmp/kiln
        try (var paths = Files.walk(dataDir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
