package dev.kiln.server.auth;

import dev.kiln.core.ApiKey;

/**
 * Who made a request: the key it presented ({@code keyId}), or the machine's own anonymous user ({@code local},
 * only in {@link AuthMode#LOCAL} and only from loopback, with an admin's rights in namespace {@code default}).
 */
public record Caller(String keyId, String namespace, ApiKey.Role role) {
    public static final String DEFAULT_NAMESPACE = "default";
    public static final Caller LOCAL = new Caller(null, DEFAULT_NAMESPACE, ApiKey.Role.ADMIN);

    public boolean admin() {
        return role == ApiKey.Role.ADMIN;
    }

    /** For audit records and logs: the key id, or {@code local}. */
    public String who() {
        return keyId != null ? keyId : "local";
    }
}
