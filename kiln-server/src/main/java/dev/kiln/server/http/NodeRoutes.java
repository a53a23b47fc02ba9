package dev.kiln.server.http;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.Orchestrator;
import dev.kiln.server.nodes.NodeGateway;
import dev.kiln.server.nodes.NodeStatus;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** The compute nodes (in-process and remote): list, describe, drain, resume, remove. */
public final class NodeRoutes {
    private final Orchestrator orchestrator;
    private final NodeGateway gateway;
    private final JsonMapper json;

    public NodeRoutes(Orchestrator orchestrator, NodeGateway gateway, JsonMapper json) {
        this.orchestrator = orchestrator;
        this.gateway = gateway;
        this.json = json;
    }

    public void register(JavalinConfig config) {
        config.routes.get("/nodes", this::list);
        config.routes.get("/nodes/{id}", ctx -> send(ctx, render(orchestrator.requireNode(ctx.pathParam("id")))));
        config.routes.post("/nodes/{id}/drain", ctx -> {
            RequestBodies.ignore(ctx);
            orchestrator.drainNode(ctx.pathParam("id"));
            send(ctx, render(orchestrator.requireNode(ctx.pathParam("id"))));
        });
        config.routes.post("/nodes/{id}/resume", ctx -> {
            RequestBodies.ignore(ctx);
            orchestrator.resumeNode(ctx.pathParam("id"));
            send(ctx, render(orchestrator.requireNode(ctx.pathParam("id"))));
        });
        config.routes.delete("/nodes/{id}", ctx -> {
            gateway.remove(ctx.pathParam("id"));
            ctx.status(204);
        });
    }

    private void list(Context ctx) {
        ArrayNode list = json.createArrayNode();
        orchestrator.nodes().forEach(n -> list.add(render(n)));
        send(ctx, list);
    }

    private void send(Context ctx, tools.jackson.databind.JsonNode body) {
        ctx.contentType("application/json").result(json.writeValueAsBytes(body));
    }

    private ObjectNode render(ComputeNode n) {
        ObjectNode o = json.createObjectNode();
        o.put("id", n.id());
        NodeStatus remote = gateway.status(n.id()).orElse(null);
        o.put("status", remote != null && !remote.state().equals("connected") ? remote.state()
                : orchestrator.nodeStatus(n));
        o.put("kind", n.inProcess() ? "in_process" : "remote");
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
            o.put("last_heard_ms_ago", remote.lastHeardMillisAgo());
            o.put("connections", remote.connections());
            if (remote.jobTypes() == null) o.putNull("job_types");
            else remote.jobTypes().forEach(o.putArray("job_types")::add);
            ObjectNode typeSlots = o.putObject("type_slots");
            remote.typeSlots().forEach(typeSlots::put);
        }
        return o;
    }
}
