package dev.kiln.server.http;

import dev.kiln.server.nodes.NodeDirectory;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;

/**
 * The compute nodes of every replica sharing the store (in-process and remote): list, describe, drain, resume,
 * remove, on whichever replica is asked ({@link NodeDirectory}).
 */
public final class NodeRoutes {
    private final NodeDirectory directory;
    private final JsonMapper json;

    public NodeRoutes(NodeDirectory directory, JsonMapper json) {
        this.directory = directory;
        this.json = json;
    }

    public void register(JavalinConfig config) {
        config.routes.get("/nodes", this::list);
        config.routes.get("/nodes/{id}", ctx -> send(ctx, directory.get(ctx.pathParam("id"))));
        config.routes.post("/nodes/{id}/drain", ctx -> {
            RequestBodies.ignore(ctx);
            send(ctx, directory.setDraining(ctx.pathParam("id"), true));
        });
        config.routes.post("/nodes/{id}/resume", ctx -> {
            RequestBodies.ignore(ctx);
            send(ctx, directory.setDraining(ctx.pathParam("id"), false));
        });
        config.routes.delete("/nodes/{id}", ctx -> {
            directory.remove(ctx.pathParam("id"));
            ctx.status(204);
        });
    }

    private void list(Context ctx) {
        ArrayNode list = json.createArrayNode();
        directory.list().forEach(list::add);
        send(ctx, list);
    }

    private void send(Context ctx, tools.jackson.databind.JsonNode body) {
        ctx.contentType("application/json").result(json.writeValueAsBytes(body));
    }
}
