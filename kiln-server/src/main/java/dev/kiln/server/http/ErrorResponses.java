package dev.kiln.server.http;

import dev.kiln.core.KilnException;
import dev.kiln.core.ServiceUnavailableException;
import dev.kiln.core.UnknownJobTypeException;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Maps refusals to JSON error bodies: {@code {"detail": message, "error": {code, message, field}}}. {@code detail}
 * keeps FastAPI-style (Tako VM) clients working. Anything unexpected is a logged 500 without internals.
 */
final class ErrorResponses {
    private static final Logger log = LoggerFactory.getLogger(ErrorResponses.class);

    private ErrorResponses() {
    }

    static void register(JavalinConfig config, JsonMapper json) {
        config.routes.exception(KilnException.class, (e, ctx) -> {
            ObjectNode body = body(json, e.code(), e.getMessage(), e.field());
            if (e instanceof UnknownJobTypeException u) {
                var list = body.putArray("available_job_types");
                u.available().forEach(list::add);
            }
            if (e instanceof ServiceUnavailableException u) {
                ctx.header("Retry-After", String.valueOf(u.retryAfterSeconds()));
            }
            if (e instanceof dev.kiln.core.TooManyRequestsException t) {
                ctx.header("Retry-After", String.valueOf(t.retryAfterSeconds()));
            }
            send(ctx, e.httpStatus(), json, body);
        });
        config.routes.exception(HttpResponseException.class, (e, ctx) ->
                send(ctx, e.getStatus(), json, body(json, "http_" + e.getStatus(), e.getMessage(), null)));
        config.routes.exception(Exception.class, (e, ctx) -> {
            log.error("unhandled error on {} {}", ctx.method(), ctx.path(), e);
            send(ctx, 500, json, body(json, "internal_error", "internal error; see the server log", null));
        });
    }

    private static ObjectNode body(JsonMapper json, String code, String message, String field) {
        ObjectNode o = json.createObjectNode();
        o.put("detail", message);
        ObjectNode err = o.putObject("error");
        err.put("code", code);
        err.put("message", message);
        err.put("field", field);
        return o;
    }

    private static void send(Context ctx, int status, JsonMapper json, ObjectNode body) {
        ctx.status(status).contentType("application/json").result(json.writeValueAsBytes(body));
    }
}
