package dev.kiln.cli.bench;

import dev.kiln.client.KilnClient;
import dev.kiln.server.KilnServer;
import dev.kiln.server.config.KilnConfig;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/** A fresh in-process Kiln on loopback with a temporary data directory (durable store), for one benchmark. */
final class BenchServer implements AutoCloseable {
    final KilnServer server;
    final KilnClient client;
    private final Path data;

    private BenchServer(Path data, KilnServer server) {
        this.data = data;
        this.server = server;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();
        this.client = new KilnClient(server.baseUrl(), http);
    }

    static BenchServer start(String executor, UnaryOperator<KilnConfig> customise) throws IOException {
        Path data = Files.createTempDirectory("kiln-bench-");
        KilnConfig config = KilnConfig.defaults().withDataDir(data).withExecutor(executor).withHost("127.0.0.1")
                .withPort(0).withMaxQueueSize(1_000_000).withShutdownGraceSeconds(0);
        return new BenchServer(data, KilnServer.start(customise.apply(config)));
    }

    @Override
    public void close() throws IOException {
        server.close();
        dev.kiln.sandbox.FileTrees.deleteRecursively(data);
    }
}
