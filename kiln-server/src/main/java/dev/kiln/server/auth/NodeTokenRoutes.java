package dev.kiln.server.auth;

import dev.kiln.core.NodeToken;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.util.function.Function;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** {@code POST /node-tokens}, {@code GET /node-tokens}, {@code DELETE /node-tokens/{id}}: admins only. */
public final class NodeTokenRoutes {
    private final NodeTokens tokens;
    private final JsonMapper json;
    private final Function<Context, byte[]> body;

    public NodeTokenRoutes(NodeTokens tokens, JsonMapper json, Function<Context, byte[]> body) {
        this.tokens = tokens;
        this.json = json;
        this.body = body;
    }

    public void register(JavalinConfig config) {
        config.routes.post("/node-tokens", this::create);
        config.routes.get("/node-tokens", ctx -> {
            ArrayNode list = json.createArrayNode();
            tokens.list().forEach(t -> list.add(render(t)));
            ObjectNode o = json.createObjectNode();
            o.set("tokens", list);
            ctx.contentType("application/json").result(json.writeValueAsBytes(o));
        });
        config.routes.delete("/node-tokens/{id}", ctx -> {
            tokens.revoke(ctx.pathParam("id"));
            ctx.status(204);
        });
    }

    private void create(Context ctx) {
        SmallJsonBody req = SmallJsonBody.parse(json, body.apply(ctx), java.util.List.of("node_id"));
        NodeTokens.Created created = tokens.create(req.text("node_id", null), Authenticator.caller(ctx).who());
        ObjectNode o = render(created.token());
        o.put("token", created.secret());
        ctx.status(201).contentType("application/json").result(json.writeValueAsBytes(o));
    }

    private ObjectNode render(NodeToken t) {
        ObjectNode o = json.createObjectNode();
        o.put("id", t.id());
        if (t.nodeId() == null) o.putNull("node_id"); else o.put("node_id", t.nodeId());
        o.put("created_at", t.createdAt().toString());
        o.put("created_by", t.createdBy());
        if (t.revokedAt() == null) o.putNull("revoked_at"); else o.put("revoked_at", t.revokedAt().toString());
        return o;
    }
}
