package dev.kiln.server.auth;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KeyStore;
import dev.kiln.core.KilnException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Makes, checks and revokes API keys. A key is {@code kiln_} and 32 random bytes (base64url); the store keeps its
 * SHA-256 only. A fast hash suffices because keys are random and long (no dictionary to try), unlike passwords.
 */
public final class ApiKeys {
    public static final String PREFIX = "kiln_";
    public static final Pattern NAMESPACE = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    private final KeyStore store;
    private final InstantSource clock;

    public ApiKeys(KeyStore store, InstantSource clock) {
        this.store = store;
        this.clock = clock;
    }

    /** A new key and its secret, shown this once. */
    public record Created(ApiKey key, String secret) {
    }

    /**
     * @throws KilnException 400 naming {@code namespace} when it is not a plain name
     */
    public Created create(String namespace, ApiKey.Role role, String createdBy) {
        if (namespace == null || !NAMESPACE.matcher(namespace).matches()) {
            throw KilnException.invalid("namespace", "namespace: must match " + NAMESPACE.pattern()
                    + " (lower-case letters, digits, '-'; at most 63), got '" + namespace + "'");
        }
        String text = Secrets.secret(PREFIX);
        ApiKey key = new ApiKey(Secrets.id("key_"), namespace, role, clock.instant(), createdBy, null);
        store.create(key, hash(text));
        return new Created(key, text);
    }

    /** The live key {@code secret} names; empty for an unknown or revoked one. */
    public Optional<ApiKey> authenticate(String secret) {
        if (secret == null || !secret.startsWith(PREFIX) || secret.length() > 200) return Optional.empty();
        return store.findByHash(hash(secret)).filter(k -> !k.revoked());
    }

    public List<ApiKey> list() {
        return store.list();
    }

    /** @throws KilnException 404 for an unknown or already revoked key */
    public void revoke(String id) {
        if (!store.revoke(id, clock.instant())) throw KilnException.notFound("key " + id);
    }

    /** Whether a live admin key exists (the first start in required mode makes one when not). */
    public boolean anyAdmin() {
        return store.list().stream().anyMatch(k -> !k.revoked() && k.role() == ApiKey.Role.ADMIN);
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
