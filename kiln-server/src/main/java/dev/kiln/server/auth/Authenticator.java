package dev.kiln.server.auth;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KilnException;
import io.javalin.http.Context;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * Finds who calls ({@link Caller}) before any route runs, and refuses who may not: no or a bad key → 401 (with
 * {@code WWW-Authenticate: Bearer}), a user key on an admin's route → 403. A revoked key fails at its next request:
 * every request looks its key up in the store.
 */
public final class Authenticator {
    public static final String CALLER = "kiln.caller";

    private final AuthMode mode;
    private final ApiKeys keys;

    public Authenticator(AuthMode mode, ApiKeys keys) {
        this.mode = mode;
        this.keys = keys;
    }

    public AuthMode mode() {
        return mode;
    }

    /** The caller of the request {@link #check} admitted (the local user when none was recorded). */
    public static Caller caller(Context ctx) {
        Caller c = ctx.attribute(CALLER);
        return c != null ? c : Caller.LOCAL;
    }

    /** Runs before every route. */
    public void check(Context ctx) {
        String method = ctx.method().name();
        String path = ctx.path();
        if (AccessRules.open(method, path) || method.equals("OPTIONS")) return;
        Caller caller = identify(ctx);
        if (AccessRules.adminOnly(method, path) && !caller.admin()) {
            throw new KilnException(403, "forbidden", null, method + " " + path + " is for admins; key "
                    + caller.who() + " has role " + caller.role().wireName());
        }
        ctx.attribute(CALLER, caller);
    }

    private Caller identify(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            if (mode == AuthMode.LOCAL && loopback(ctx.req().getRemoteAddr())) return Caller.LOCAL;
            throw unauthorized(mode == AuthMode.LOCAL
                    ? "an API key is needed from outside this machine (auth.mode: local): Authorization: Bearer <key>"
                    : "an API key is needed (auth.mode: required): Authorization: Bearer <key>", ctx);
        }
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw unauthorized("Authorization: only 'Bearer <key>' is accepted", ctx);
        }
        Optional<ApiKey> key = keys.authenticate(header.substring(7).strip());
        if (key.isEmpty()) throw unauthorized("Authorization: unknown or revoked API key", ctx);
        return new Caller(key.get().id(), key.get().namespace(), key.get().role());
    }

    private static KilnException unauthorized(String message, Context ctx) {
        ctx.header("WWW-Authenticate", "Bearer realm=\"kiln\"");
        return new KilnException(401, "unauthorized", null, message);
    }

    static boolean loopback(String address) {
        try {
            return address != null && InetAddress.getByName(address).isLoopbackAddress(); // a literal: no lookup
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
