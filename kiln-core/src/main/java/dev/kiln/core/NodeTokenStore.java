package dev.kiln.core;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Join tokens of compute nodes, one per node, kept as hashes like API keys. */
public interface NodeTokenStore {
    void create(NodeToken token, String hash);

    Optional<NodeToken> findByHash(String hash);

    List<NodeToken> list();

    /** Binds an unbound token to {@code nodeId}; false when it is bound already (to any node) or gone. */
    boolean bind(String id, String nodeId);

    /** False when there is no such token or it was revoked already. */
    boolean revoke(String id, Instant at);
}
