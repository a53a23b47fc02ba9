package dev.kiln.server.auth;

import dev.kiln.core.KilnException;
import dev.kiln.core.NodeToken;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.util.function.Function;
import tools.jackson.databind.JsonNode;
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
        byte[] raw = body.apply(ctx);
        JsonNode root;
        try {
            root = raw.length == 0 ? json.createObjectNode() : json.readTree(raw);
        } catch (RuntimeException e) {
            throw KilnException.invalid("body", "body: not valid JSON");
        }
        if (!root.isObject()) throw KilnException.invalid("body", "body: must be a JSON object");
        root.propertyNames().forEach(name -> {
            if (!name.equals("node_id")) throw KilnException.invalid(name, name + ": unknown field (allowed: node_id)");
        });
        JsonNode id = root.get("node_id");
        if (id != null && !id.isNull() && !id.isString()) throw KilnException.invalid("node_id", "node_id: must be a string");
        NodeTokens.Created created = tokens.create(id == null || id.isNull() ? null : id.asString(),
                Authenticator.caller(ctx).who());
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
