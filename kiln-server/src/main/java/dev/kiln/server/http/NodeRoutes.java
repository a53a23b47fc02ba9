package dev.kiln.server.http;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.KilnException;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.util.List;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** The compute nodes: today the in-process node; remote nodes join the same list. */
public final class NodeRoutes {
    private final List<ComputeNode> nodes;
    private final JsonMapper json;

    public NodeRoutes(List<ComputeNode> nodes, JsonMapper json) {
        this.nodes = List.copyOf(nodes);
        this.json = json;
    }

    public void register(JavalinConfig config) {
        config.routes.get("/nodes", this::list);
        config.routes.get("/nodes/{id}", this::get);
    }

    private void list(Context ctx) {
        ArrayNode list = json.createArrayNode();
        nodes.forEach(n -> list.add(render(n)));
        ctx.contentType("application/json").result(json.writeValueAsBytes(list));
    }

    private void get(Context ctx) {
        String id = ctx.pathParam("id");
        ComputeNode n = nodes.stream().filter(x -> x.id().equals(id)).findFirst()
                .orElseThrow(() -> KilnException.notFound("node " + id));
        ctx.contentType("application/json").result(json.writeValueAsBytes(render(n)));
    }

    private ObjectNode render(ComputeNode n) {
        ObjectNode o = json.createObjectNode();
        o.put("id", n.id());
        o.put("status", "ready");
        o.put("capacity", n.capacity());
        o.put("free_slots", n.freeSlots());
        n.executors().stream().sorted().forEach(o.putArray("executors")::add);
        o.put("default_executor", n.defaultExecutor());
        ObjectNode labels = o.putObject("labels");
        n.labels().forEach(labels::put);
        return o;
    }
}
