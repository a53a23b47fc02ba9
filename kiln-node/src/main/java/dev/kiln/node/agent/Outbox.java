package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Result;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What the node sends besides {@code hello} and heartbeats, and the welcomed connection it goes on. A result is
 * kept until the orchestrator acknowledges it and sent again after every welcome, so none is lost with a
 * connection. {@code started} and {@code output} go out only while connected: after a reconnect the welcome
 * reconciles what runs, and the result carries all the output.
 */
final class Outbox {
    // Guarded by this.
    private final Map<String, Result> unacked = new LinkedHashMap<>();
    private Transport session; // the welcomed connection; null while disconnected

    /**
     * Welcomed on {@code t}: forgets the results of {@code disowned} (the welcome's {@code cancel}: no longer this
     * node's), then sends the others on {@code t}.
     */
    synchronized void connected(Transport t, Collection<String> disowned) {
        disowned.forEach(unacked::remove);
        session = t;
        notifyAll();
        // Results that finished while disconnected, or were sent but never acknowledged.
        unacked.values().forEach(t::send);
    }

    /** {@code t} is gone; nothing goes out until the next welcome. */
    synchronized void disconnected(Transport t) {
        if (session == t) session = null;
    }

    /** Nothing goes out any more, whichever connection was welcomed (the agent is closing). */
    synchronized void disconnect() {
        session = null;
    }

    /** Welcomed and not disconnected since. */
    synchronized boolean connected() {
        return session != null;
    }

    /** Waits until {@link #connected()}; false when the timeout passed first. */
    synchronized boolean awaitConnected(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (session == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Keeps the result until it is acknowledged, and sends it now if connected. */
    synchronized void deliver(Result result) {
        unacked.put(result.executionId(), result);
        if (session != null) session.send(result);
    }

    /** Sends the kept result of the execution again, if connected; false when none is kept. */
    synchronized boolean resend(String executionId) {
        Result held = unacked.get(executionId);
        if (held == null) return false;
        if (session != null) session.send(held);
        return true;
    }

    /** The orchestrator recorded (or dropped) the result: forgets it. */
    synchronized void acked(String executionId) {
        unacked.remove(executionId);
    }

    /** Adds the executions whose results are kept (they count as held in {@code hello}). */
    synchronized void addUnackedTo(Set<String> ids) {
        ids.addAll(unacked.keySet());
    }

    /** Best effort: sends the message if connected, else drops it. */
    synchronized void sendIfConnected(NodeMessage message) {
        if (session != null) session.send(message);
    }
}
