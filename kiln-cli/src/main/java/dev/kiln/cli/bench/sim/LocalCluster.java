package dev.kiln.cli.bench.sim;

import dev.kiln.core.OrchestratorEvents;
import dev.kiln.node.NodeExecutors;
import dev.kiln.node.agent.NodeAgent;
import dev.kiln.node.agent.NodeAgentConfig;
import dev.kiln.node.agent.NodeAgentConfig.TransportType;
import dev.kiln.server.KilnServer;
import dev.kiln.server.config.KilnConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * An orchestrator without an in-process node ({@code local_node: false}) and real {@link NodeAgent}s dialing it,
 * all in this JVM: each agent has its own connection, its own data dir ({@code <nodesDir>/node-<i>}) and the node
 * id {@code <prefix>-<i>}. For {@code kiln devstack} and {@code kiln bench dispatch}.
 */
public final class LocalCluster implements AutoCloseable {
    /** How the nodes run: executor noop (nothing runs for real) or bwrap, transport, slots each. */
    public record NodeSpec(String executor, TransportType transport, long pollIntervalMillis, int slots,
                           String idPrefix) {
    }

    private final KilnServer server;
    private final List<NodeAgent> agents;

    private LocalCluster(KilnServer server, List<NodeAgent> agents) {
        this.server = server;
        this.agents = agents;
    }

    /**
     * Starts the orchestrator ({@code config} with {@code local_node} turned off, {@code events} as an extra
     * observer), then {@code count} agents; does not wait for them to connect.
     */
    public static LocalCluster start(KilnConfig config, OrchestratorEvents events, int count, NodeSpec spec,
                                     Path nodesDir) throws IOException {
        KilnServer server = KilnServer.start(config.withNodes(config.nodes().withLocalNode(false)), events);
        List<NodeAgent> agents = new ArrayList<>();
        try {
            URI url = URI.create(server.baseUrl());
            for (int i = 1; i <= count; i++) {
                Path dir = Files.createDirectories(nodesDir.resolve("node-" + i));
                NodeAgentConfig c = NodeAgentConfig.of(url, dir).withNodeId(spec.idPrefix() + "-" + i)
                        .withSlots(spec.slots()).withTransport(spec.transport(), spec.pollIntervalMillis())
                        .withExecutor(spec.executor());
                NodeAgent agent = "noop".equals(spec.executor())
                        ? new NodeAgent(c, NodeExecutors.noopOnly()) // no bwrap set-up per node
                        : new NodeAgent(c);
                agents.add(agent);
                agent.start();
            }
        } catch (IOException | RuntimeException e) {
            closeAll(agents, server);
            throw e;
        }
        return new LocalCluster(server, agents);
    }

    public KilnServer server() {
        return server;
    }

    public String url() {
        return server.baseUrl();
    }

    public List<NodeAgent> agents() {
        return agents;
    }

    /** Waits until every agent was welcomed; false when {@code timeout} passed first. */
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (NodeAgent a : agents) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !a.awaitConnected(Duration.ofNanos(left))) return false;
        }
        return true;
    }

    /** Closes the agents (in parallel: each says goodbye on its own connection), then the orchestrator. */
    @Override
    public void close() {
        closeAll(agents, server);
    }

    private static void closeAll(List<NodeAgent> agents, KilnServer server) {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> closing = new ArrayList<>();
            for (NodeAgent a : agents) closing.add(pool.submit(a::close));
            for (Future<?> f : closing) {
                try {
                    f.get();
                } catch (Exception e) {
                    // closing anyway
                }
            }
        }
        server.close();
    }
}
