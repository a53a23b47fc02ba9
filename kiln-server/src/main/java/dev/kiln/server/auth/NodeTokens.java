package dev.kiln.server.auth;

import dev.kiln.core.KilnException;
import dev.kiln.core.NodeToken;
import dev.kiln.core.NodeTokenStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;

/**
 * Join tokens, one per node: made by an admin ({@code kiln node token create [--node-id ID]}), bound to that node
 * id (or to the first node that joins with it), revocable. A node that presents one may join only as its node; in
 * {@link AuthMode#REQUIRED} nothing else lets a node in but the shared {@code node_join_token}, if one is set (which
 * admits any id, as before: per-node tokens are the way to keep nodes from claiming each other's ids).
 */
public final class NodeTokens {
    public static final String PREFIX = "kilnnode_";

    private final NodeTokenStore store;
    private final InstantSource clock;
    private final AuthMode mode;
    private final String sharedToken; // node_join_token; null: none

    public NodeTokens(NodeTokenStore store, InstantSource clock, AuthMode mode, String sharedToken) {
        this.store = store;
        this.clock = clock;
        this.mode = mode;
        this.sharedToken = sharedToken;
    }

    public record Created(NodeToken token, String secret) {
    }

    /** @param nodeId the node it admits (null: the first that joins with it) */
    public Created create(String nodeId, String createdBy) {
        if (nodeId != null && !dev.kiln.server.nodes.NodeGateway.NODE_ID.matcher(nodeId).matches()) {
            throw KilnException.invalid("node_id", "node_id: must match " + dev.kiln.server.nodes.NodeGateway.NODE_ID.pattern() + ", got '" + nodeId + "'");
        }
        String text = Secrets.secret(PREFIX);
        NodeToken token = new NodeToken(Secrets.id("ntok_"), nodeId, clock.instant(), createdBy, null);
        store.create(token, ApiKeys.hash(text));
        return new Created(token, text);
    }

    public List<NodeToken> list() {
        return store.list();
    }

    /** @throws KilnException 404 for an unknown or already revoked token */
    public void revoke(String id) {
        if (!store.revoke(id, clock.instant())) throw KilnException.notFound("node token " + id);
    }

    /**
     * Null when node {@code nodeId} presenting {@code presented} (null: none) may join; else why not, starting with
     * the field ({@code token:}).
     */
    public String refusal(String nodeId, String presented, boolean loopback) {
        if (presented != null && presented.startsWith(PREFIX)) {
            Optional<NodeToken> t = store.findByHash(ApiKeys.hash(presented)).filter(x -> !x.revoked());
            if (t.isEmpty()) return "token: unknown or revoked node token";
            String bound = t.get().nodeId();
            if (bound == null) {
                if (store.bind(t.get().id(), nodeId)) return null;
                bound = store.findByHash(ApiKeys.hash(presented)).map(NodeToken::nodeId).orElse(null);
            }
            return nodeId.equals(bound) ? null
                    : "node_id: this token belongs to node '" + bound + "'; node '" + nodeId + "' may not use it";
        }
        if (sharedToken != null) {
            return presented != null && MessageDigest.isEqual(sharedToken.getBytes(StandardCharsets.UTF_8),
                    presented.getBytes(StandardCharsets.UTF_8)) ? null : "token: wrong or missing join token";
        }
        if (mode == AuthMode.LOCAL && loopback) return null;
        return mode == AuthMode.REQUIRED
                ? "token: a node token is needed (auth.mode: required; an admin makes one with kiln node token create "
                        + "--node-id " + nodeId + ")"
                : "token: no node_join_token is configured, so only nodes on the orchestrator's machine may join "
                        + "(or make a node token: kiln node token create --node-id " + nodeId + ")";
    }
}
