package dev.kiln.core;

import java.time.Instant;

/**
 * A node's join token as the store keeps it (its hash elsewhere, never the token). {@code nodeId}: the one node it
 * admits; null until the first node that joins with it, which it is then bound to.
 */
public record NodeToken(String id, String nodeId, Instant createdAt, String createdBy, Instant revokedAt) {
    public boolean revoked() {
        return revokedAt != null;
    }
}
