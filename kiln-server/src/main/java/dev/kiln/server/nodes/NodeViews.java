package dev.kiln.server.nodes;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.Orchestrator;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * A node as {@code GET /nodes} shows it, rendered by the replica that holds it: what it offers, its slots, what runs
 * on it, its connection. The same JSON is what that replica publishes to the store for the others
 * ({@link NodeDirectory}).
 */
public final class NodeViews {
    /** Fields that change with every heartbeat: not a reason to publish again. */
    static final String LAST_HEARD = "last_heard_ms_ago";

    private final Orchestrator orchestrator;
    private final NodeGateway gateway;
    private final JsonMapper json;
    private final String replica;

    public NodeViews(Orchestrator orchestrator, NodeGateway gateway, JsonMapper json, String replica) {
        this.orchestrator = orchestrator;
        this.gateway = gateway;
        this.json = json;
        this.replica = replica;
    }

    ObjectNode render(ComputeNode n) {
        ObjectNode o = json.createObjectNode();
        o.put("id", n.id());
        NodeStatus remote = gateway.status(n.id()).orElse(null);
        o.put("status", remote != null && !remote.state().equals("connected") ? remote.state()
                : orchestrator.nodeStatus(n));
        o.put("kind", n.inProcess() ? "in_process" : "remote");
        o.put("replica", replica);
        o.put("capacity", n.capacity());
        o.put("free_slots", n.freeSlots());
        o.put("running", orchestrator.runningOn(n.id()));
        n.executors().stream().sorted().forEach(o.putArray("executors")::add);
        o.put("default_executor", n.defaultExecutor());
        ObjectNode labels = o.putObject("labels");
        n.labels().forEach(labels::put);
        if (remote != null) {
            o.put("transport", remote.transport());
            o.put("connected_since", remote.connectedSince() == null ? null : remote.connectedSince().toString());
            o.put(LAST_HEARD, remote.lastHeardMillisAgo());
            o.put("connections", remote.connections());
            if (remote.jobTypes() == null) o.putNull("job_types");
            else remote.jobTypes().forEach(o.putArray("job_types")::add);
            ObjectNode typeSlots = o.putObject("type_slots");
            remote.typeSlots().forEach(typeSlots::put);
        }
        return o;
    }
}
