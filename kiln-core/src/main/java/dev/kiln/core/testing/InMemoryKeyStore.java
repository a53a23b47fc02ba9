package dev.kiln.core.testing;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KeyStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The reference {@link KeyStore}. */
public final class InMemoryKeyStore implements KeyStore {
    private final Map<String, ApiKey> byId = new LinkedHashMap<>();
    private final Map<String, String> idByHash = new LinkedHashMap<>();

    @Override
    public synchronized void create(ApiKey key, String hash) {
        if (byId.containsKey(key.id()) || idByHash.containsKey(hash)) {
            throw new IllegalStateException("key " + key.id() + " exists");
        }
        byId.put(key.id(), key);
        idByHash.put(hash, key.id());
    }

    @Override
    public synchronized Optional<ApiKey> findByHash(String hash) {
        String id = idByHash.get(hash);
        return id == null ? Optional.empty() : Optional.of(byId.get(id));
    }

    @Override
    public synchronized List<ApiKey> list() {
        return new ArrayList<>(byId.values());
    }

    @Override
    public synchronized boolean revoke(String id, Instant at) {
        ApiKey k = byId.get(id);
        if (k == null || k.revoked()) return false;
        byId.put(id, new ApiKey(k.id(), k.namespace(), k.role(), k.createdAt(), k.createdBy(), at));
        return true;
    }
}
