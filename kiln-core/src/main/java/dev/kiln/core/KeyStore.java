package dev.kiln.core;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * API keys, kept as hashes: a key is shown once when it is made and can never be read back. Every request looks its
 * key up here, so a revoked key stops working at once, on every replica.
 */
public interface KeyStore {
    /** Stores a new key under {@code hash} (hex SHA-256 of the key). */
    void create(ApiKey key, String hash);

    /** The key with that hash, revoked or not. */
    Optional<ApiKey> findByHash(String hash);

    /** Every key, oldest first. */
    List<ApiKey> list();

    /** Revokes the key; false when there is no such key or it was revoked already. */
    boolean revoke(String id, Instant at);
}
