package dev.kiln.server;

import dev.kiln.core.ArtifactStore;
import dev.kiln.core.Executor;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeCatalog;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.OrchestratorSettings;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.WorkRoots;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.http.ApiRoutes;
import dev.kiln.store.FileArtifactStore;
import dev.kiln.store.SqliteJobStore;
import io.javalin.Javalin;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * One Kiln process: store, artifact store, an in-process compute node, the orchestrator and the HTTP API. The node
 * sits behind {@link dev.kiln.core.ComputeNode}, the interface remote nodes will use too.
 */
public final class KilnServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KilnServer.class);

    private final KilnConfig config;
    private final JobStore store;
    private final LocalComputeNode node;
    private final Orchestrator orchestrator;
    private final Javalin http;

    private KilnServer(KilnConfig config, JobStore store, LocalComputeNode node, Orchestrator orchestrator,
                       Javalin http) {
        this.config = config;
        this.store = store;
        this.node = node;
        this.orchestrator = orchestrator;
        this.http = http;
    }

    public static KilnServer start(KilnConfig config) {
        JobStore store = null;
        LocalComputeNode node = null;
        Orchestrator orchestrator = null;
        try {
            DataDirectory.prepare(config.dataDir());
            store = SqliteJobStore.open(config.dataDir());
            ArtifactStore artifacts = FileArtifactStore.open(config.dataDir());
            Map<String, Executor> executors = Executors.create(config);
            node = new LocalComputeNode("local", executors, config.executor(), config.slots(),
                    WorkRoots.choose(config.dataDir()));
            KilnMetrics metrics = new KilnMetrics();
            orchestrator = new Orchestrator(store, artifacts, new JobTypeCatalog(config.jobTypes()), List.of(node),
                    Clock.systemUTC(), metrics, new OrchestratorSettings(config.maxQueueSize(), config.maxAttempts(),
                    config.requestLimits(), config.outputLimits(), null));
            metrics.bind(orchestrator);
            orchestrator.start();
            JsonMapper json = JsonMapper.builder().build();
            ApiRoutes routes = new ApiRoutes(orchestrator, artifacts, json, config.requestLimits().maxBodyBytes(),
                    metrics::scrape);
            Javalin http = Javalin.create(c -> {
                c.concurrency.useVirtualThreads = true;
                c.startup.showJavalinBanner = false;
                c.http.maxRequestSize = config.requestLimits().maxBodyBytes();
                // Synchronous /execute holds a request open for the whole job; don't let idleness cut it.
                c.jetty.modifyServer(s -> s.addEventListener(new org.eclipse.jetty.util.component.LifeCycle.Listener() {
                    @Override
                    public void lifeCycleStarting(org.eclipse.jetty.util.component.LifeCycle event) {
                        for (var connector : s.getConnectors()) {
                            if (connector instanceof ServerConnector sc) sc.setIdleTimeout(3_600_000);
                        }
                    }
                }));
                routes.register(c);
            });
            http.start(config.host(), config.port());
            log.info("Kiln listening on http://{}:{} (executor {}, {} slot(s), data {})", config.host(), http.port(),
                    config.executor(), config.slots(), config.dataDir().toAbsolutePath());
            return new KilnServer(config, store, node, orchestrator, http);
        } catch (IOException e) {
            closeQuietly(orchestrator, node, store);
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            closeQuietly(orchestrator, node, store);
            throw e;
        }
    }

    private static void closeQuietly(AutoCloseable... things) {
        for (AutoCloseable c : things) {
            if (c == null) continue;
            try {
                c.close();
            } catch (Exception e) {
                log.warn("error while closing {}", c, e);
            }
        }
    }

    public int port() {
        return http.port();
    }

    public String baseUrl() {
        String host = config.host().equals("0.0.0.0") ? "127.0.0.1" : config.host();
        return "http://" + host + ":" + port();
    }

    public Orchestrator orchestrator() {
        return orchestrator;
    }

    /**
     * Stops gracefully: no new requests or executions, running ones get {@code shutdown_grace} seconds to finish;
     * what is still running then is interrupted and re-queued, to run again after a restart.
     */
    @Override
    public void close() {
        http.stop();
        try {
            orchestrator.drain(java.time.Duration.ofSeconds(config.shutdownGraceSeconds()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(node, orchestrator, store);
    }
}
