package dev.kiln.cli;

import dev.kiln.cli.bench.sim.LocalCluster;
import dev.kiln.core.OrchestratorEvents;
import dev.kiln.node.agent.NodeAgent;
import dev.kiln.node.agent.NodeAgentConfig.TransportType;
import dev.kiln.server.config.KilnConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * An orchestrator without an in-process node and N real node agents in one process, each with its own connection
 * and data dir: a whole cluster on one machine, for tests and load. Runs until Ctrl-C (or SIGTERM).
 */
@Command(name = "devstack", mixinStandardHelpOptions = true,
        description = {"Run an orchestrator and N node agents in one process until Ctrl-C.",
                "The orchestrator has no in-process node; each agent has its own",
                "connection and data dir (DIR/nodes/node-<i>, node id devstack-<i>).",
                "For tests and load."})
final class DevstackCommand implements Callable<Integer> {
    @Option(names = "--nodes", paramLabel = "N", defaultValue = "3", description = "Node agents (default 3)")
    int nodes;

    @Option(names = "--executor", paramLabel = "noop|bwrap|gvisor", defaultValue = "noop",
            description = "The nodes' executor: noop (runs nothing for real, default), bwrap or gvisor")
    String executor;

    @Option(names = "--port", paramLabel = "P", defaultValue = "8000",
            description = "HTTP port of the orchestrator (default 8000; 0: any free port)")
    int port;

    @Option(names = "--transport", paramLabel = "ws|poll", defaultValue = "ws",
            description = "How the nodes connect: ws (WebSocket, default) or poll (HTTP long-poll)")
    String transport;

    @Option(names = "--slots", paramLabel = "N", defaultValue = "4", description = "Slots of each node (default 4)")
    int slots;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "kiln-devstack-data",
            description = "The orchestrator's data dir; the nodes' are under DIR/nodes (default kiln-devstack-data)")
    Path dataDir;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (nodes < 1) throw bad("--nodes must be at least 1, got " + nodes);
        if (slots < 1) throw bad("--slots must be at least 1, got " + slots);
        if (port < 0 || port > 65_535) throw bad("--port must be 0 to 65535, got " + port);
        if (!dev.kiln.sandbox.ExecutorNames.isKnown(executor)) {
            throw bad("--executor must be " + dev.kiln.sandbox.ExecutorNames.CHOICES + ", got '" + executor + "'");
        }
        TransportType type;
        try {
            type = TransportType.parse(transport);
        } catch (IllegalArgumentException e) {
            throw bad("--transport must be ws or poll, got '" + transport + "'");
        }
        KilnConfig config = KilnConfig.defaults().withHost("127.0.0.1").withPort(port).withDataDir(dataDir)
                .withExecutor(executor);
        LocalCluster cluster = LocalCluster.start(config, OrchestratorEvents.NONE, nodes,
                new LocalCluster.NodeSpec(executor, type, 0, slots, "devstack"), dataDir.resolve("nodes"));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            cluster.close(); // the agents first, then the orchestrator
            stopped.countDown();
        }, "kiln-devstack-shutdown"));
        PrintWriter out = spec.commandLine().getOut();
        boolean all = cluster.awaitConnected(Duration.ofSeconds(60));
        out.println("Kiln devstack: API " + cluster.url() + "  nodes " + cluster.url() + "/nodes  metrics "
                + cluster.url() + "/metrics");
        out.println("orchestrator data " + dataDir.toAbsolutePath() + " (no in-process node)");
        for (NodeAgent a : cluster.agents()) {
            out.println("  node " + a.nodeId() + "  " + executor + ", " + slots + " slot(s), " + transport + "  "
                    + (a.connected() ? "connected" : "NOT connected yet"));
        }
        out.println(all ? "all " + nodes + " node(s) connected; Ctrl-C stops" : "some nodes did not connect within "
                + "60 s (see the log); Ctrl-C stops");
        out.flush();
        stopped.await();
        return 0;
    }

    private ParameterException bad(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
