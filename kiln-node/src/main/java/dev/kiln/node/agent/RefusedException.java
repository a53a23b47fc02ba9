package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;

/** The orchestrator answered {@code hello} with {@code refused}. */
public final class RefusedException extends Exception {
    private final NodeMessage.Refused refused;

    RefusedException(NodeMessage.Refused refused) {
        super(refused.code() + ": " + refused.message());
        this.refused = refused;
    }

    public NodeMessage.Refused refused() {
        return refused;
    }
}
