package dev.kiln.server;

import dev.kiln.core.JobType;

import dev.kiln.core.ArtifactStore;
import dev.kiln.core.CompositeEvents;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobTypeRegistry;
import dev.kiln.sandbox.GvisorExecutor;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.server.http.JobTypeRoutes;
import dev.kiln.server.http.NodeRoutes;
import dev.kiln.server.nodes.LongPollNodeEndpoint;
import dev.kiln.server.nodes.NodeDirectory;
import dev.kiln.server.nodes.NodeGateway;
import dev.kiln.server.nodes.NodeMessageLimits;
import dev.kiln.server.nodes.WebSocketNodeEndpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.OrchestratorSettings;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.NodeExecutors;
import dev.kiln.sandbox.PipSources;
import dev.kiln.node.WorkRoots;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.http.ApiRoutes;
import dev.kiln.server.config.ConfigException;
import dev.kiln.store.StoreOpenException;
import dev.kiln.store.Stores;
import io.javalin.Javalin;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

/**
 * One Kiln process: store, artifact store, the orchestrator, the HTTP API, the gateway remote nodes dial into, and
 * (unless {@code local_node: false}) an in-process compute node. Both kinds of node sit behind
 * {@link dev.kiln.core.ComputeNode}, so placement and results take one path.
 */
public final class KilnServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KilnServer.class);

    private final KilnConfig config;
    private final JobStore store;
    private final LocalComputeNode node;
    private final NodeGateway gateway;
    private final NodeDirectory directory;
    private final dev.kiln.server.http.ReplicaLiveOutput replicaOutput;
    private final Orchestrator orchestrator;
    private final EnvironmentService environments;
    private final LayerStore layers;
    private final dev.kiln.sandbox.BwrapExecutor bwrap;
    private final Javalin http;

    private KilnServer(KilnConfig config, JobStore store, LocalComputeNode node, NodeGateway gateway,
                       NodeDirectory directory, dev.kiln.server.http.ReplicaLiveOutput replicaOutput,
                       Orchestrator orchestrator,
                       EnvironmentService environments, LayerStore layers, dev.kiln.sandbox.BwrapExecutor bwrap,
                       Javalin http) {
        this.config = config;
        this.store = store;
        this.node = node;
        this.gateway = gateway;
        this.directory = directory;
        this.replicaOutput = replicaOutput;
        this.orchestrator = orchestrator;
        this.environments = environments;
        this.layers = layers;
        this.bwrap = bwrap;
        this.http = http;
    }

    /**
     * The in-process node's id: {@code local} on a store of its own; with a shared store one per host and data
     * directory, so that replicas' in-process nodes never share an id (a restart finds its own executions by it).
     */
    static String localNodeId(KilnConfig config) {
        if (config.store().inDataDirectory()) return "local";
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "localhost";
        }
        byte[] digest = dev.kiln.core.SpecHash.sha256().digest((host + "\n" + config.dataDir().toAbsolutePath())
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return "local-" + java.util.HexFormat.of().formatHex(digest, 0, 4);
    }

    /** This process among the replicas sharing a store: its host and a random part, new at every start. */
    static String replicaId() {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "localhost";
        }
        return host + "/" + java.util.UUID.randomUUID().toString().substring(0, 8);
    }

    public static KilnServer start(KilnConfig config) {
        return start(config, dev.kiln.core.OrchestratorEvents.NONE);
    }

    /** Like {@link #start(KilnConfig)}, with one more observer of the orchestrator (benchmarks, tests). */
    public static KilnServer start(KilnConfig config, dev.kiln.core.OrchestratorEvents extraEvents) {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            DataDirectory.prepare(config.dataDir(), config.store().inDataDirectory());
            Stores stores = openStores(config);
            opened.add(stores);
            JobStore store = stores.jobs();
            ArtifactStore artifacts = stores.artifacts();
            JobTypeRegistry registry = new JobTypeRegistry(config.jobTypes(), stores.jobTypes());
            Path visible = WorkRoots.sandboxVisibleRoot(config.dataDir());
            // Without an in-process node this process runs no sandboxes: no executors, layers or warm pools.
            NodeExecutors sandboxes = config.nodes().localNode()
                    ? createExecutors(config, visible) : NodeExecutors.noopOnly();
            if (sandboxes.layers() != null) opened.add(sandboxes.layers());
            EnvironmentService environments = new EnvironmentService(sandboxes.layers(),
                    sandboxes.layers() == null ? null : sandboxes.layers().interpreters(), registry,
                    config.productionMode(), config.dataDir().resolve("layer-state"));
            opened.add(environments);
            LocalComputeNode node = null;
            if (config.nodes().localNode()) {
                node = new LocalComputeNode(localNodeId(config), sandboxes.executors(), config.executor(), config.slots(),
                        visible.resolve("work"), environments, config.labels());
                opened.add(node);
            }
            KilnMetrics metrics = new KilnMetrics();
            Orchestrator orchestrator = new Orchestrator(store, artifacts, registry, environments,
                    node == null ? List.of() : List.of(node), Clock.systemUTC(),
                    new CompositeEvents(metrics, environments, extraEvents),
                    new OrchestratorSettings(config.maxQueueSize(), config.maxAttempts(), config.requestLimits(),
                    config.outputLimits(), null,
                    java.time.Duration.ofSeconds(config.nodes().reconnectGraceSeconds()),
                    java.time.Duration.ofSeconds(config.queueTimeoutSeconds()),
                    java.time.Duration.ofSeconds(config.idempotencyRetentionSeconds()),
                    java.time.Duration.ofSeconds(config.executionGraceSeconds()),
                    java.time.Duration.ofSeconds(config.retentionSeconds())),
                    stores.signals(), stores.leadership());
            opened.add(orchestrator);
            Path spool = config.dataDir().resolve("node-results");
            dev.kiln.sandbox.FileTrees.deleteRecursively(spool); // a crashed run's half-received results
            NodeGateway gateway = new NodeGateway(orchestrator, config.nodes(), spool, config.outputLimits(), metrics);
            opened.add(gateway);
            metrics.bind(orchestrator, gateway);
            JsonMapper json = JsonMapper.builder().build();
            // Before dispatch starts: a drain kept in the store applies before a node can be given work.
            NodeDirectory directory = new NodeDirectory(orchestrator, gateway, stores.nodes(), stores.signals(), json,
                    Clock.systemUTC(), replicaId());
            opened.add(directory);
            directory.start();
            orchestrator.start();
            WarmPoolManager pools = new WarmPoolManager(sandboxes.bwrap(), registry, environments, config.executor(),
                    config.slots(), metrics.registry());
            environments.onLayerBuilt(pools::refresh);
            registry.onChange(pools::refresh);
            pools.refresh();
            var replicaOutput = new dev.kiln.server.http.ReplicaLiveOutput(orchestrator.liveOutput(),
                    stores.liveOutput(), stores.signals());
            opened.add(replicaOutput);
            ApiRoutes routes = new ApiRoutes(orchestrator, artifacts, json, config.requestLimits().maxBodyBytes(),
                    metrics::scrape);
            NodeRoutes nodeRoutes = new NodeRoutes(directory, json);
            long maxNodeMessage = NodeMessageLimits.maxResultBytes(config.outputLimits());
            WebSocketNodeEndpoint nodeSockets = new WebSocketNodeEndpoint(gateway, maxNodeMessage);
            LongPollNodeEndpoint nodePolls = new LongPollNodeEndpoint(gateway, maxNodeMessage);
            JobTypeRoutes typeRoutes = new JobTypeRoutes(registry, environments, json,
                    config.requestLimits().maxBodyBytes(), () -> orchestrator.nodes().stream()
                    .flatMap(n -> n.executors().stream()).collect(java.util.stream.Collectors.toSet()));
            var apiKeys = new dev.kiln.server.auth.ApiKeys(stores.keys(), Clock.systemUTC());
            if (config.authMode() == dev.kiln.server.auth.AuthMode.REQUIRED) {
                dev.kiln.server.auth.AdminKeyFile.bootstrap(apiKeys, config.dataDir());
            }
            var authenticator = new dev.kiln.server.auth.Authenticator(config.authMode(), apiKeys);
            var keyRoutes = new dev.kiln.server.auth.KeyRoutes(apiKeys, json,
                    ctx -> dev.kiln.server.http.RequestBodies.read(ctx, 64 << 10));
            var nodeTokens = new dev.kiln.server.auth.NodeTokens(stores.nodeTokens(), Clock.systemUTC(),
                    config.authMode(), config.nodes().joinToken());
            gateway.admission(nodeTokens::refusal);
            var nodeTokenRoutes = new dev.kiln.server.auth.NodeTokenRoutes(nodeTokens, json,
                    ctx -> dev.kiln.server.http.RequestBodies.read(ctx, 64 << 10));
            var connectionLimits = new dev.kiln.server.http.ConnectionLimits(config.http().maxConnections(),
                    config.http().maxConnectionsPerClient());
            Javalin http = Javalin.create(c -> {
                c.concurrency.useVirtualThreads = true;
                c.startup.showJavalinBanner = false;
                c.http.maxRequestSize = config.requestLimits().maxBodyBytes();
                // Idle keep-alive connections close after http.idle_timeout; a request being answered (a
                // synchronous /execute waiting for its job) is not cut by it, a body that stops arriving is
                // (RequestBodies, http.body_timeout). Connections past the caps are refused (ConnectionLimits).
                c.jetty.modifyServer(s -> s.addEventListener(new org.eclipse.jetty.util.component.LifeCycle.Listener() {
                    @Override
                    public void lifeCycleStarting(org.eclipse.jetty.util.component.LifeCycle event) {
                        for (var connector : s.getConnectors()) {
                            if (connector instanceof ServerConnector sc) {
                                sc.setIdleTimeout(config.http().idleTimeoutMillis());
                                sc.addEventListener(connectionLimits);
                            }
                        }
                    }
                }));
                c.appData(dev.kiln.server.http.RequestBodies.BODY_TIMEOUT, config.http().bodyTimeoutMillis());
                c.routes.before(authenticator::check);
                routes.register(c);
                keyRoutes.register(c);
                nodeTokenRoutes.register(c);
                typeRoutes.register(c);
                nodeRoutes.register(c);
                new dev.kiln.server.http.LiveOutputRoute(orchestrator, json, replicaOutput,
                        new dev.kiln.server.http.StreamLimits(config.http().maxStreams(),
                                config.http().maxStreamsPerClient())).register(c);
                nodeSockets.register(c);
                nodePolls.register(c);
            });
            http.start(config.host(), config.port());
            log.info("Kiln listening on http://{}:{} ({}, data {}, store {}{})", config.host(), http.port(),
                    node == null ? "no in-process node: waiting for remote nodes"
                            : "executor " + config.executor() + ", " + config.slots() + " slot(s)",
                    config.dataDir().toAbsolutePath(), config.store(),
                    config.productionMode() ? ", production mode" : "");
            return new KilnServer(config, store, node, gateway, directory, replicaOutput, orchestrator, environments,
                    sandboxes.layers(), sandboxes.bwrap(), http);
        } catch (IOException e) {
            closeAll(opened);
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            closeAll(opened);
            throw e;
        }
    }

    /** A database that cannot be reached or refuses the login stops start-up, naming the setting to fix. */
    private static Stores openStores(KilnConfig config) throws IOException {
        try {
            return Stores.open(config.store(), config.dataDir());
        } catch (StoreOpenException e) {
            throw new ConfigException("store: " + e.getMessage() + " (set by --store, KILN_STORE or store: in "
                    + "kiln.yaml)", "store", e.getMessage());
        }
    }

    private static NodeExecutors createExecutors(KilnConfig config, Path visibleRoot) {
        boolean bwrapWanted = config.executor().equals("bwrap")
                || config.jobTypes().stream().anyMatch(t -> "bwrap".equals(t.executor()));
        boolean gvisorWanted = config.executor().equals(GvisorExecutor.NAME)
                || config.jobTypes().stream().anyMatch(t -> GvisorExecutor.NAME.equals(t.executor()));
        var pip = config.pip();
        SandboxUidCheck.requireEnough(config);
        NodeExecutors executors = NodeExecutors.create(bwrapWanted, gvisorWanted,
                NodeExecutors.bwrapConfig(Path.of(config.sandbox().bwrap()),
                        Path.of(config.sandbox().python()), config.sandbox().cgroupParent(), config.sandbox().uidRange()),
                new PipSources(pip.indexUrl(), pip.extraIndexUrls(), pip.findLinks(), pip.noIndex()),
                visibleRoot.resolve("layers"), visibleRoot.resolve("warm"));
        refuseUnservableNetworks(config, executors);
        return executors;
    }

    /**
     * A network-enabled type (or a layer built from an index) the bwrap executor cannot give its filtered network
     * (pasta, nft, root) stops start-up with what to install, instead of failing each job.
     */
    private static void refuseUnservableNetworks(KilnConfig config, NodeExecutors executors) {
        if (executors.bwrap() == null) return;
        String why = executors.bwrap().networkUnavailable();
        if (why == null) return;
        List<JobType> types = config.jobTypes();
        for (int i = 0; i < types.size(); i++) {
            JobType t = types.get(i);
            boolean onBwrap = t.executor() == null ? config.executor().equals("bwrap") : t.executor().equals("bwrap");
            if (!onBwrap) continue;
            String field = t.networkEnabled() ? "network_enabled" : t.needsLayer() && !config.pip().noIndex()
                    ? "requirements" : null;
            if (field == null) continue;
            executors.executors().values().forEach(e -> {
                try {
                    e.close();
                } catch (Exception ignored) {
                    // closing on the way out
                }
            });
            if (executors.layers() != null) executors.layers().close();
            String path = "job_types[" + i + "]." + field;
            throw new ConfigException("job type '" + t.name() + "' needs the sandbox network: " + why, path, why);
        }
    }

    private static void closeAll(List<AutoCloseable> opened) {
        java.util.Collections.reverse(opened);
        closeQuietly(opened.toArray(AutoCloseable[]::new));
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

    /** Warm pool counters of the in-process node (empty without bwrap). */
    public List<dev.kiln.sandbox.WarmPoolStats> poolStats() {
        return bwrap == null ? List.of() : bwrap.poolStats();
    }

    /** Where job-type layers live (null without a sandbox). */
    public Path layerRoot() {
        return layers == null ? null : layers.root();
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
        closeQuietly(replicaOutput, directory, gateway, node, orchestrator, environments, layers, store);
    }
}
