package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A long-poll session: messages for the node wait in an outbox until the node's next {@code GET}. Only one GET waits
 * at a time; a newer one takes over and the older answers empty.
 */
final class PollChannel implements NodeChannel {
    private final String session;
    private final ArrayDeque<NodeMessage> outbox = new ArrayDeque<>();
    private NodeMessage.Welcome welcome;
    private long waiterGeneration;
    private boolean closed;
    volatile RemoteComputeNode node;

    PollChannel(String session) {
        this.session = session;
    }

    String session() {
        return session;
    }

    @Override
    public synchronized void welcome(NodeMessage.Welcome w) {
        this.welcome = w;
    }

    synchronized NodeMessage.Welcome welcome() {
        return welcome;
    }

    @Override
    public synchronized void send(NodeMessage message) {
        if (closed) return;
        outbox.add(message);
        notifyAll();
    }

    @Override
    public synchronized void close(NodeMessage.Refused reason) {
        if (closed) return;
        if (reason != null) outbox.add(reason); // delivered by the next GET, then the session is gone
        closed = true;
        notifyAll();
    }

    /**
     * Waits up to {@code waitMillis} for messages and takes them all. Null when the session is over (closed and
     * nothing left to deliver).
     */
    synchronized List<NodeMessage> take(long waitMillis) throws InterruptedException {
        long generation = ++waiterGeneration;
        notifyAll(); // an older waiting GET answers empty
        long deadline = System.nanoTime() + waitMillis * 1_000_000L;
        while (outbox.isEmpty() && !closed && generation == waiterGeneration) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) break;
            wait(left);
        }
        if (outbox.isEmpty() && closed) return null;
        if (generation != waiterGeneration) return List.of(); // a newer GET took over
        List<NodeMessage> out = new ArrayList<>(outbox);
        outbox.clear();
        return out;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public String transport() {
        return "poll";
    }
}
