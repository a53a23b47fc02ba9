package dev.kiln.node.protocol;

/** A message that does not follow docs/protocol.md; the message names the field. */
public final class ProtocolException extends RuntimeException {
    public ProtocolException(String message) {
        super(message);
    }
}
