package dev.kiln.server.config;

/**
 * How the orchestrator deals with compute nodes. {@code localNode}: run an in-process node (single-node mode);
 * {@code joinToken}: the secret remote nodes present (null: only nodes on loopback may join); a node silent past
 * {@code leaseMillis} is lost; nodes heartbeat every {@code heartbeatMillis}; after a restart, executions running on
 * remote nodes wait {@code reconnectGraceSeconds} for their node to come back.
 */
public record NodeSettings(boolean localNode, String joinToken, int leaseMillis, int heartbeatMillis,
                           int reconnectGraceSeconds) {
    public static final NodeSettings DEFAULTS = new NodeSettings(true, null, 3000, 1000, 10);

    public NodeSettings {
        if (joinToken != null && joinToken.isBlank()) joinToken = null;
        if (heartbeatMillis >= leaseMillis) {
            throw new IllegalArgumentException("node_heartbeat (" + heartbeatMillis + " ms) must be shorter than "
                    + "node_lease (" + leaseMillis + " ms)");
        }
    }

    /**
     * How long a message that must arrive (execute, cancel, result) waits for its ack before it is sent again: two
     * heartbeats (a round trip takes far less), at least 100 ms; doubling on each further resend.
     */
    public int resendMillis() {
        return Math.max(100, 2 * heartbeatMillis);
    }

    public NodeSettings withLocalNode(boolean on) {
        return new NodeSettings(on, joinToken, leaseMillis, heartbeatMillis, reconnectGraceSeconds);
    }

    public NodeSettings withJoinToken(String token) {
        return new NodeSettings(localNode, token, leaseMillis, heartbeatMillis, reconnectGraceSeconds);
    }

    public NodeSettings withLease(int leaseMs, int heartbeatMs) {
        return new NodeSettings(localNode, joinToken, leaseMs, heartbeatMs, reconnectGraceSeconds);
    }

    public NodeSettings withReconnectGraceSeconds(int seconds) {
        return new NodeSettings(localNode, joinToken, leaseMillis, heartbeatMillis, seconds);
    }
}
