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
    private KeepAliveHttp loadClient;

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
                .withPort(0).withMaxQueueSize(1_000_000).withShutdownGraceSeconds(0).withOwnCgroupParent("kiln-bench");
        return new BenchServer(data, KilnServer.start(customise.apply(config)));
    }

    /** A cheap keep-alive client for load runs (closed with this server). */
    synchronized KeepAliveHttp loadClient() {
        if (loadClient == null) loadClient = new KeepAliveHttp(server.baseUrl());
        return loadClient;
    }

    @Override
    public void close() throws IOException {
        if (loadClient != null) loadClient.close();
        server.close();
        dev.kiln.node.WorkRoots.discardTree(data);
    }
}
