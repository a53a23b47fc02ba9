package dev.kiln.server.auth;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KilnException;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** {@code POST /keys}, {@code GET /keys}, {@code DELETE /keys/{id}}: admins only ({@link AccessRules}). */
public final class KeyRoutes {
    private final ApiKeys keys;
    private final JsonMapper json;
    private final java.util.function.Function<Context, byte[]> body;

    /** @param body reads a request body with the server's caps and timeouts */
    public KeyRoutes(ApiKeys keys, JsonMapper json, java.util.function.Function<Context, byte[]> body) {
        this.keys = keys;
        this.json = json;
        this.body = body;
    }

    public void register(JavalinConfig config) {
        config.routes.post("/keys", this::create);
        config.routes.get("/keys", this::list);
        config.routes.delete("/keys/{id}", ctx -> {
            keys.revoke(ctx.pathParam("id"));
            ctx.status(204);
        });
    }

    private void create(Context ctx) {
        SmallJsonBody req = SmallJsonBody.parse(json, body.apply(ctx), java.util.List.of("namespace", "role"));
        String namespace = req.text("namespace", Caller.DEFAULT_NAMESPACE);
        ApiKey.Role role;
        try {
            role = ApiKey.Role.parse(req.text("role", "user"));
        } catch (IllegalArgumentException e) {
            throw KilnException.invalid("role", e.getMessage());
        }
        ApiKeys.Created created = keys.create(namespace, role, Authenticator.caller(ctx).who());
        ObjectNode o = render(created.key());
        o.put("key", created.secret());
        ctx.status(201).contentType("application/json").result(json.writeValueAsBytes(o));
    }


    private void list(Context ctx) {
        ArrayNode list = json.createArrayNode();
        keys.list().forEach(k -> list.add(render(k)));
        ObjectNode o = json.createObjectNode();
        o.set("keys", list);
        ctx.contentType("application/json").result(json.writeValueAsBytes(o));
    }

    private ObjectNode render(ApiKey k) {
        ObjectNode o = json.createObjectNode();
        o.put("id", k.id());
        o.put("namespace", k.namespace());
        o.put("role", k.role().wireName());
        o.put("created_at", k.createdAt().toString());
        o.put("created_by", k.createdBy());
        if (k.revokedAt() == null) o.putNull("revoked_at"); else o.put("revoked_at", k.revokedAt().toString());
        return o;
    }
}
