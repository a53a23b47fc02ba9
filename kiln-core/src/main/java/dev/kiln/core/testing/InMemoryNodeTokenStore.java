package dev.kiln.core.testing;

import dev.kiln.core.NodeToken;
import dev.kiln.core.NodeTokenStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The reference {@link NodeTokenStore}. */
public final class InMemoryNodeTokenStore implements NodeTokenStore {
    private final Map<String, NodeToken> byId = new LinkedHashMap<>();
    private final Map<String, String> idByHash = new LinkedHashMap<>();

    @Override
    public synchronized void create(NodeToken token, String hash) {
        if (byId.containsKey(token.id()) || idByHash.containsKey(hash)) {
            throw new IllegalStateException("token " + token.id() + " exists");
        }
        byId.put(token.id(), token);
        idByHash.put(hash, token.id());
    }

    @Override
    public synchronized Optional<NodeToken> findByHash(String hash) {
        String id = idByHash.get(hash);
        return id == null ? Optional.empty() : Optional.of(byId.get(id));
    }

    @Override
    public synchronized List<NodeToken> list() {
        return new ArrayList<>(byId.values());
    }

    @Override
    public synchronized boolean bind(String id, String nodeId) {
        NodeToken t = byId.get(id);
        if (t == null || t.nodeId() != null) return false;
        byId.put(id, new NodeToken(id, nodeId, t.createdAt(), t.createdBy(), t.revokedAt()));
        return true;
    }

    @Override
    public synchronized boolean revoke(String id, Instant at) {
        NodeToken t = byId.get(id);
        if (t == null || t.revoked()) return false;
        byId.put(id, new NodeToken(id, t.nodeId(), t.createdAt(), t.createdBy(), at));
        return true;
    }
}
