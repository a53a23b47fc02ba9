package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;

/** A handshake or message the gateway refuses; {@link #refused()} is what the node is told before the close. */
final class NodeRefusedException extends RuntimeException {
    private final NodeMessage.Refused refused;

    NodeRefusedException(String code, String message) {
        super(message);
        this.refused = new NodeMessage.Refused(code, message);
    }

    NodeMessage.Refused refused() {
        return refused;
    }
}
