package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import java.io.IOException;

/**
 * One connection to the orchestrator, over whichever transport (docs/protocol.md). Used once: a lost connection is
 * replaced by a new transport saying {@code hello} again. Everything the orchestrator sends after {@code welcome}
 * goes to the {@link Listener} the transport was made with, in order, from one thread at a time.
 *
 * <p>Public for {@code kiln bench nodes}, whose simulated nodes speak over the agent's own
 * {@link WebSocketTransport}.
 */
public interface Transport extends AutoCloseable {
    /**
     * Sends {@code hello} and waits for the answer.
     *
     * @throws RefusedException when the orchestrator answers {@code refused}
     * @throws IOException      when the orchestrator cannot be reached or answers nonsense
     */
    NodeMessage.Welcome connect(NodeMessage.Hello hello)
            throws IOException, InterruptedException, RefusedException;

    /**
     * Queues a message for sending without blocking; messages leave in the order of the calls. A send that fails
     * ends the connection ({@link Listener#lost}); the transport retries nothing (reliable messages are resent by
     * their sender until acknowledged).
     */
    void send(NodeMessage message);

    /**
     * What was sent up to {@code sentNanos} ({@link System#nanoTime()}) is known to have arrived (an ack said so):
     * the transport need not ask with a ping of its own.
     */
    default void confirmed(long sentNanos) {
    }

    /** Ends the connection (idempotent); the listener hears nothing more, {@link #connect} fails if still waiting. */
    @Override
    void close();

    /**
     * What the orchestrator sends; {@code lost} is called at most once per transport, not after {@link #close}.
     * Called on the transport's threads (or on a {@link #send} that finds the connection dead): keep it short.
     */
    interface Listener {
        void received(NodeMessage message);

        void lost(String why);

        /**
         * The orchestrator has received everything sent up to {@code sentNanos} ({@link System#nanoTime()}): the
         * welcome answered the hello, a pong a ping, a 2xx a POST.
         */
        default void confirmed(long sentNanos) {
        }
    }
}
