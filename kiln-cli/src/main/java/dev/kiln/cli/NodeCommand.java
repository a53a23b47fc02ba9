package dev.kiln.cli;

import dev.kiln.sandbox.SandboxUidRange;

import dev.kiln.core.LabelConstraint;
import dev.kiln.node.agent.LayerTtl;
import dev.kiln.node.agent.NodeAgent;
import dev.kiln.node.agent.NodeAgentConfig;
import dev.kiln.node.agent.NodeIdentity;
import dev.kiln.sandbox.PipSources;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import tools.jackson.databind.JsonNode;

/**
 * {@code kiln node --orchestrator URL[,URL...]} runs this machine as a compute node of that orchestrator (until
 * SIGTERM or SIGINT), moving to the next URL of the list when it cannot reach the one it uses; the subcommands list,
 * describe, drain and resume the nodes of a running server.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = {"Run this machine as a compute node of an orchestrator (--orchestrator URL),",
                "or list, describe, drain and resume nodes."},
        subcommands = {NodeCommand.ListNodes.class, NodeCommand.Describe.class, NodeCommand.Drain.class,
                NodeCommand.Resume.class, NodeTokenCommand.class})
final class NodeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--orchestrator", paramLabel = "URL[,URL...]",
            description = {"Run as a node of the orchestrator at URL (http://host:port); with several, "
                    + "connect to one and move to the next when it cannot be reached"})
    String orchestrator;

    @Option(names = "--executor", paramLabel = "NAME",
            description = "Default executor: bwrap, gvisor or noop (default: bwrap when this machine can run it, else noop; gvisor is offered only when it is the default)")
    String executor;

    @Option(names = "--labels", paramLabel = "K=V[,K=V...]", description = "Labels job constraints can match")
    String labels;

    @Option(names = "--slots", paramLabel = "N", description = "Executions at once (default: CPU count)")
    Integer slots;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "kiln-node-data",
            description = "Node id, work dirs and layers (default: kiln-node-data)")
    Path dataDir;

    @Option(names = "--transport", paramLabel = "ws|poll", defaultValue = "ws",
            description = "ws (WebSocket, default) or poll (HTTP long-poll, for proxies that break WebSockets)")
    String transport;

    @Option(names = "--poll-interval", paramLabel = "MS",
            description = "With --transport poll: poll every MS milliseconds instead of long-polling")
    Long pollInterval;

    @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:KILN_NODE_JOIN_TOKEN}",
            description = "Join token (env KILN_NODE_JOIN_TOKEN)")
    String token;

    @Option(names = "--job-types", paramLabel = "A,B", description = "Take only these job types (default: any)")
    String jobTypes;

    @Option(names = "--type-slots", paramLabel = "TYPE=N,...",
            description = "Run at most N jobs of a type at once (e.g. ml=1); other types share --slots")
    String typeSlots;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "Node id (default: the one kept in the data dir, else a new one)")
    String nodeId;

    @Option(names = "--pip-index-url", paramLabel = "URL",
            description = "Package index for this node's layer builds (default: pip's, PyPI)")
    String pipIndexUrl;

    @Option(names = "--pip-extra-index-url", paramLabel = "URL", description = "A further index (repeatable)")
    List<String> pipExtraIndexUrls = new ArrayList<>();

    @Option(names = "--pip-find-links", paramLabel = "DIR",
            description = "A local wheel directory for layer builds (repeatable)")
    List<Path> pipFindLinks = new ArrayList<>();

    @Option(names = "--pip-no-index", description = "Build layers from --pip-find-links only, without the network")
    boolean pipNoIndex;

    @Option(names = "--uid-range", paramLabel = "FIRST-LAST", defaultValue = "${env:KILN_UID_RANGE}",
            description = "Host uids sandboxes run as, one per live sandbox, when the node is root (env "
                    + "KILN_UID_RANGE; default 100000000-100065535)")
    String uidRange;

    @Option(names = "--layer-ttl", paramLabel = "AGE", defaultValue = "7d",
            description = "Remove a job-type layer this node has not used for AGE: 30m, 12h, 7d (default: 7d)")
    String layerTtl;

    @Override
    public Integer call() throws Exception {
        if (orchestrator == null) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("error: `kiln node` needs --orchestrator URL to run a node, or a subcommand");
            spec.commandLine().usage(err);
            err.flush();
            return 2;
        }
        NodeAgent agent = new NodeAgent(config());
        Thread hook = new Thread(agent::close, "kiln-node-shutdown");
        Runtime.getRuntime().addShutdownHook(hook); // SIGTERM and SIGINT end the node cleanly
        agent.start();
        agent.awaitStopped();
        if (agent.stopReason() == null) return 0; // closed by the shutdown hook
        Runtime.getRuntime().removeShutdownHook(hook);
        agent.close();
        spec.commandLine().getErr().println("error: node " + agent.nodeId() + " stopped: " + agent.stopReason());
        spec.commandLine().getErr().flush();
        return 1;
    }

    /** The agent's configuration; a bad flag is a usage error naming it. */
    NodeAgentConfig config() {
        List<URI> urls = parseOrchestrators();
        if (executor != null && !dev.kiln.sandbox.ExecutorNames.isKnown(executor)) {
            throw bad("--executor must be " + dev.kiln.sandbox.ExecutorNames.CHOICES + ", got '" + executor + "'");
        }
        int n = slots != null ? slots : Runtime.getRuntime().availableProcessors();
        if (n < 1) throw bad("--slots must be at least 1, got " + n);
        NodeAgentConfig.TransportType type;
        try {
            type = NodeAgentConfig.TransportType.parse(transport);
        } catch (IllegalArgumentException e) {
            throw bad("--transport must be ws or poll, got '" + transport + "'");
        }
        if (pollInterval != null && type != NodeAgentConfig.TransportType.POLL) {
            throw bad("--poll-interval applies only to --transport poll");
        }
        if (pollInterval != null && pollInterval < 1) {
            throw bad("--poll-interval must be at least 1 ms, got " + pollInterval);
        }
        if (nodeId != null && !NodeIdentity.isValid(nodeId)) {
            throw bad("--node-id must be 1 to 64 of A-Z a-z 0-9 . _ -, got '" + nodeId + "'");
        }
        String t = token == null || token.isBlank() ? null : token.strip();
        return new NodeAgentConfig(urls, t, parseLabels(), n, executor, dataDir, type,
                pollInterval == null ? 0 : pollInterval, parseJobTypes(), nodeId, parseTypeSlots(), pipSources(),
                parseLayerTtl(), parseUidRange());
    }

    private SandboxUidRange parseUidRange() {
        if (uidRange == null || uidRange.isBlank()) return SandboxUidRange.DEFAULT;
        try {
            return SandboxUidRange.parse(uidRange);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--uid-range (or KILN_UID_RANGE) " + e.getMessage());
        }
    }

    /** Comma-separated base URLs, each checked; the error names the flag and the URL at fault. */
    private List<URI> parseOrchestrators() {
        List<URI> urls = new ArrayList<>();
        for (String item : orchestrator.split(",", -1)) {
            String s = item.strip();
            if (s.isEmpty()) {
                throw bad("--orchestrator: a URL in the list is empty, got '" + orchestrator + "' (separate URLs "
                        + "with commas: http://10.0.0.5:8000,http://10.0.0.6:8000)");
            }
            URI url;
            try {
                url = URI.create(s);
                NodeAgentConfig.checkOrchestrator(url);
            } catch (IllegalArgumentException e) {
                throw bad("--orchestrator must be http:// or https:// URLs such as http://10.0.0.5:8000, got '"
                        + s + "'" + (s.equals(orchestrator.strip()) ? "" : " in '" + orchestrator + "'"));
            }
            urls.add(url);
        }
        return urls;
    }

    private Duration parseLayerTtl() {
        try {
            return LayerTtl.parse(layerTtl);
        } catch (IllegalArgumentException e) {
            throw bad("--layer-ttl " + e.getMessage());
        }
    }

    private PipSources pipSources() {
        for (Path p : pipFindLinks) {
            if (!Files.isDirectory(p)) throw bad("--pip-find-links: " + p + " is not a directory");
        }
        if (pipNoIndex && pipFindLinks.isEmpty()) throw bad("--pip-no-index needs at least one --pip-find-links DIR");
        for (String u : pipExtraIndexUrls) {
            if (u.isBlank()) throw bad("--pip-extra-index-url must not be blank");
        }
        return new PipSources(pipIndexUrl, pipExtraIndexUrls, pipFindLinks, pipNoIndex);
    }

    private Map<String, String> parseLabels() {
        Map<String, String> out = new LinkedHashMap<>();
        if (labels == null || labels.isBlank()) return out;
        for (String item : labels.split(",")) {
            String s = item.strip();
            int eq = s.indexOf('=');
            String key = eq < 0 ? s : s.substring(0, eq).strip();
            String value = eq < 0 ? "" : s.substring(eq + 1).strip();
            boolean ok;
            try {
                LabelConstraint c = LabelConstraint.parse(key + "=" + value);
                ok = eq > 0 && c.op() == LabelConstraint.Op.EQUALS && c.key().equals(key);
            } catch (IllegalArgumentException e) {
                ok = false;
            }
            if (!ok) {
                throw bad("--labels: '" + s + "' is not key=value (keys and values are letters, digits, '.', '_', "
                        + "'-', '/' (values also ':'), at most 63)");
            }
            out.put(key, value);
        }
        return out;
    }

    private Map<String, Integer> parseTypeSlots() {
        Map<String, Integer> out = new LinkedHashMap<>();
        if (typeSlots == null) return out;
        for (String pair : typeSlots.split(",")) {
            String[] kv = pair.split("=", 2);
            int n;
            try {
                n = kv.length == 2 ? Integer.parseInt(kv[1].strip()) : -1;
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (kv.length != 2 || kv[0].isBlank() || n < 1) {
                throw bad("--type-slots: expected TYPE=N with N at least 1, got '" + pair + "'");
            }
            out.put(kv[0].strip(), n);
        }
        return out;
    }

    private List<String> parseJobTypes() {
        if (jobTypes == null) return null;
        List<String> out = new ArrayList<>();
        for (String s : jobTypes.split(",")) {
            if (s.isBlank()) throw bad("--job-types: a job type name must not be empty, got '" + jobTypes + "'");
            out.add(s.strip());
        }
        return out;
    }

    private ParameterException bad(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List nodes.")
    static final class ListNodes extends ClientCommand {
        @Override
        public Integer call() {
            JsonNode nodes = kiln().nodes();
            PrintWriter out = out();
            if (json()) {
                JobPrinter.json(out, nodes);
                return 0;
            }
            out.printf("%-24s  %-9s  %-5s  %-9s  %s%n", "NODE", "STATUS", "FREE", "EXECUTORS", "LABELS");
            for (JsonNode n : nodes) {
                StringBuilder labels = new StringBuilder();
                n.get("labels").properties().forEach(e -> labels.append(e.getKey()).append('=')
                        .append(e.getValue().asString()).append(' '));
                out.printf("%-24s  %-9s  %-5s  %-9s  %s%n", n.get("id").asString(), n.get("status").asString(),
                        n.get("free_slots").asInt() + "/" + n.get("capacity").asInt(),
                        String.join(",", n.get("executors").valueStream().map(JsonNode::asString).toList()),
                        labels.toString().strip());
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show one node.")
    static final class Describe extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JobPrinter.json(out(), kiln().node(id));
            return 0;
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Let the node finish what it runs and take no new work.")
    static final class Drain extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JsonNode n = kiln().drainNode(id);
            out().println(json() ? n.toString() : "node " + id + ": " + n.get("status").asString());
            out().flush();
            return 0;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Let a drained node take work again.")
    static final class Resume extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JsonNode n = kiln().resumeNode(id);
            out().println(json() ? n.toString() : "node " + id + ": " + n.get("status").asString());
            out().flush();
            return 0;
        }
    }
}
