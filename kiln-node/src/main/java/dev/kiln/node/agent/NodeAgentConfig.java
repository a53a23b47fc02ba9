package dev.kiln.node.agent;

import dev.kiln.sandbox.PipSources;
import dev.kiln.sandbox.SandboxUidRange;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * How a node agent runs.
 *
 * @param orchestrators      the orchestrators' base URLs, {@code http://host:port} (https too; a path prefix is kept),
 *                           tried in order: the node connects to one and moves to the next when it cannot reach it
 * @param token              the join token sent in {@code hello} (null: none; the orchestrator then accepts only
 *                           loopback nodes)
 * @param labels             the operator's labels; the automatic ones are added
 * @param slots              executions at once (the credits the node grants)
 * @param executor           the default executor; null: bwrap when this machine can run it, else noop
 * @param dataDir            node id, work dirs, layers, warm sandboxes
 * @param pollIntervalMillis poll transport only: 0 long-polls, more polls with {@code wait=0} at that interval
 * @param jobTypes           the job types this node takes; null: any
 * @param nodeId             an explicit node id (stored in the data dir); null: the stored or a new one
 * @param typeSlots          at most this many executions of a job type at once (types not named: only slots)
 * @param pip                where this node's layer builds get packages (an index, local wheel directories)
 * @param layerTtl           a layer this node has not used for this long is removed (null: {@link LayerTtl#DEFAULT})
 * @param uidRange           the host uids this node's sandboxes run as, one per live sandbox, when it is root
 *                           (null: {@link SandboxUidRange#DEFAULT}); at least slots + 1 uids
 */
public record NodeAgentConfig(List<URI> orchestrators, String token, Map<String, String> labels, int slots, String executor,
                              Path dataDir, TransportType transport, long pollIntervalMillis, List<String> jobTypes,
                              String nodeId, Map<String, Integer> typeSlots, PipSources pip, Duration layerTtl,
                              SandboxUidRange uidRange) {
    public enum TransportType {
        WS, POLL;

        /** @throws IllegalArgumentException unless {@code ws} or {@code poll} */
        public static TransportType parse(String text) {
            return switch (text == null ? "" : text.toLowerCase(Locale.ROOT)) {
                case "ws" -> WS;
                case "poll" -> POLL;
                default -> throw new IllegalArgumentException("transport must be ws or poll, got '" + text + "'");
            };
        }
    }

    public NodeAgentConfig {
        orchestrators = List.copyOf(Objects.requireNonNull(orchestrators, "orchestrators"));
        if (orchestrators.isEmpty()) throw new IllegalArgumentException("orchestrators: at least one URL is needed");
        orchestrators.forEach(NodeAgentConfig::checkOrchestrator);
        labels = labels == null ? Map.of() : Map.copyOf(labels);
        if (slots < 1) throw new IllegalArgumentException("slots must be at least 1, got " + slots);
        if (executor != null && executor.isBlank()) executor = null;
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(transport, "transport");
        if (pollIntervalMillis < 0) {
            throw new IllegalArgumentException("poll interval must be 0 (long-poll) or more, got "
                    + pollIntervalMillis);
        }
        jobTypes = jobTypes == null ? null : List.copyOf(jobTypes);
        if (nodeId != null) NodeIdentity.validate(nodeId);
        typeSlots = typeSlots == null ? Map.of() : Map.copyOf(typeSlots);
        typeSlots.forEach((type, n) -> {
            if (n < 1) throw new IllegalArgumentException("type slots for " + type + " must be at least 1, got " + n);
        });
        pip = pip == null ? PipSources.DEFAULT : pip;
        layerTtl = layerTtl == null ? LayerTtl.DEFAULT : LayerTtl.check(layerTtl);
        uidRange = uidRange == null ? SandboxUidRange.DEFAULT : uidRange;
        if (uidRange.size() < slots + 1L) {
            throw new IllegalArgumentException("uid range " + uidRange + " holds " + uidRange.size()
                    + " uids but the node needs at least slots + 1 (" + (slots + 1L) + ")");
        }
    }

    public NodeAgentConfig(List<URI> orchestrators, String token, Map<String, String> labels, int slots,
                           String executor, Path dataDir, TransportType transport, long pollIntervalMillis,
                           List<String> jobTypes, String nodeId, Map<String, Integer> typeSlots, PipSources pip,
                           Duration layerTtl) {
        this(orchestrators, token, labels, slots, executor, dataDir, transport, pollIntervalMillis, jobTypes, nodeId,
                typeSlots, pip, layerTtl, null);
    }

    public NodeAgentConfig(URI orchestrator, String token, Map<String, String> labels, int slots, String executor,
                           Path dataDir, TransportType transport, long pollIntervalMillis, List<String> jobTypes,
                           String nodeId) {
        this(List.of(orchestrator), token, labels, slots, executor, dataDir, transport, pollIntervalMillis, jobTypes,
                nodeId, Map.of(), PipSources.DEFAULT, null);
    }

    /** @throws IllegalArgumentException unless an http(s) base URL with a host, no query, no fragment */
    public static void checkOrchestrator(URI url) {
        Objects.requireNonNull(url, "orchestrator");
        String scheme = url.getScheme();
        if (!"http".equals(scheme) && !"https".equals(scheme) || url.getHost() == null) {
            throw new IllegalArgumentException("orchestrator must be an http:// or https:// URL with a host, got '"
                    + url + "'");
        }
        if (url.getRawQuery() != null || url.getRawFragment() != null) {
            throw new IllegalArgumentException("orchestrator must be a base URL without query or fragment, got '"
                    + url + "'");
        }
    }

    /** Defaults for everything but where to connect and where to keep data: ws, CPU-count slots, auto executor. */
    public static NodeAgentConfig of(URI orchestrator, Path dataDir) {
        return new NodeAgentConfig(orchestrator, null, Map.of(), Runtime.getRuntime().availableProcessors(), null,
                dataDir, TransportType.WS, 0, null, null);
    }

    /** {@code path} (starting with '/') under an orchestrator's base URL, with the scheme swapped for ws/wss. */
    static URI endpoint(URI orchestrator, String path, boolean websocket) {
        String base = orchestrator.toString().replaceAll("/+$", "");
        if (websocket) {
            base = (orchestrator.getScheme().equals("https") ? "wss" : "ws") + base.substring(base.indexOf(':'));
        }
        return URI.create(base + path);
    }

    /** Without the token: configurations get logged. */
    @Override
    public String toString() {
        return "NodeAgentConfig[orchestrators=" + orchestrators + ", token=" + (token == null ? "none" : "***")
                + ", labels=" + labels + ", slots=" + slots + ", executor=" + executor + ", dataDir=" + dataDir
                + ", transport=" + transport + ", pollIntervalMillis=" + pollIntervalMillis + ", jobTypes=" + jobTypes
                + ", nodeId=" + nodeId + ", typeSlots=" + typeSlots + ", pip=" + pip + ", layerTtl="
                + LayerTtl.format(layerTtl) + "]";
    }

    public NodeAgentConfig withOrchestrators(List<URI> urls) {
        return with(b -> b.orchestrators = urls);
    }

    public NodeAgentConfig withTransport(TransportType t, long pollMillis) {
        return with(b -> {
            b.transport = t;
            b.pollIntervalMillis = pollMillis;
        });
    }

    public NodeAgentConfig withNodeId(String id) {
        return with(b -> b.nodeId = id);
    }

    public NodeAgentConfig withToken(String t) {
        return with(b -> b.token = t);
    }

    public NodeAgentConfig withSlots(int n) {
        return with(b -> b.slots = n);
    }

    public NodeAgentConfig withExecutor(String name) {
        return with(b -> b.executor = name);
    }

    public NodeAgentConfig withTypeSlots(Map<String, Integer> perType) {
        return with(b -> b.typeSlots = perType);
    }

    public NodeAgentConfig withPip(PipSources p) {
        return with(b -> b.pip = p);
    }

    public NodeAgentConfig withLayerTtl(Duration ttl) {
        return with(b -> b.layerTtl = ttl);
    }

    /** A copy with {@code change} applied; the canonical constructor checks the result. */
    private NodeAgentConfig with(java.util.function.Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    /** Every component, mutable: the one place the withers list them. */
    private static final class Builder {
        List<URI> orchestrators;
        String token;
        Map<String, String> labels;
        int slots;
        String executor;
        Path dataDir;
        TransportType transport;
        long pollIntervalMillis;
        List<String> jobTypes;
        String nodeId;
        Map<String, Integer> typeSlots;
        PipSources pip;
        Duration layerTtl;

        Builder(NodeAgentConfig c) {
            orchestrators = c.orchestrators;
            token = c.token;
            labels = c.labels;
            slots = c.slots;
            executor = c.executor;
            dataDir = c.dataDir;
            transport = c.transport;
            pollIntervalMillis = c.pollIntervalMillis;
            jobTypes = c.jobTypes;
            nodeId = c.nodeId;
            typeSlots = c.typeSlots;
            pip = c.pip;
            layerTtl = c.layerTtl;
        }

        NodeAgentConfig build() {
            return new NodeAgentConfig(orchestrators, token, labels, slots, executor, dataDir, transport,
                    pollIntervalMillis, jobTypes, nodeId, typeSlots, pip, layerTtl);
        }
    }
}
