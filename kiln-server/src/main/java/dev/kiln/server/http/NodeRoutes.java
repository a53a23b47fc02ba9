package dev.kiln.server.http;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.Orchestrator;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** The compute nodes: today the in-process node; remote nodes join the same list. Drain and resume. */
public final class NodeRoutes {
    private final Orchestrator orchestrator;
    private final JsonMapper json;

    public NodeRoutes(Orchestrator orchestrator, JsonMapper json) {
        this.orchestrator = orchestrator;
        this.json = json;
    }

    public void register(JavalinConfig config) {
        config.routes.get("/nodes", this::list);
        config.routes.get("/nodes/{id}", ctx -> send(ctx, render(orchestrator.requireNode(ctx.pathParam("id")))));
        config.routes.post("/nodes/{id}/drain", ctx -> {
            orchestrator.drainNode(ctx.pathParam("id"));
            send(ctx, render(orchestrator.requireNode(ctx.pathParam("id"))));
        });
        config.routes.post("/nodes/{id}/resume", ctx -> {
            orchestrator.resumeNode(ctx.pathParam("id"));
            send(ctx, render(orchestrator.requireNode(ctx.pathParam("id"))));
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
        o.put("status", orchestrator.nodeStatus(n));
        o.put("capacity", n.capacity());
        o.put("free_slots", n.freeSlots());
        n.executors().stream().sorted().forEach(o.putArray("executors")::add);
        o.put("default_executor", n.defaultExecutor());
        ObjectNode labels = o.putObject("labels");
        n.labels().forEach(labels::put);
        return o;
    }
}
