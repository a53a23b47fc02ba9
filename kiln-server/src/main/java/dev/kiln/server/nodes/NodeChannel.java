package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;

/** One connection to a remote node, whatever carries it (WebSocket or long-poll). Sends never block on the node. */
interface NodeChannel {
    /** The handshake answer; the transport delivers it before anything sent with {@link #send}. */
    void welcome(NodeMessage.Welcome welcome);

    /** Best effort: a message lost with a dying connection is recovered by reconnect reconciliation or the lease. */
    void send(NodeMessage message);

    /** Ends the connection, telling the node why when {@code reason} is non-null. */
    void close(NodeMessage.Refused reason);

    /** {@code ws} or {@code poll}. */
    String transport();
}
