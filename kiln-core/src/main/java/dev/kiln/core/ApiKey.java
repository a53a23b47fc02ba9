package dev.kiln.core;

import java.time.Instant;

/**
 * An API key as the store keeps it: never the key itself, only what it grants. {@code createdBy}: the key id (or
 * {@code local} for the machine's own anonymous user, {@code bootstrap} for the first admin key) that made it.
 */
public record ApiKey(String id, String namespace, Role role, Instant createdAt, String createdBy, Instant revokedAt) {
    public enum Role {
        ADMIN, USER;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** @throws IllegalArgumentException naming the allowed values */
        public static Role parse(String text) {
            for (Role r : values()) if (r.wireName().equals(text)) return r;
            throw new IllegalArgumentException("role: must be user or admin, got '" + text + "'");
        }
    }

    public boolean revoked() {
        return revokedAt != null;
    }
}
