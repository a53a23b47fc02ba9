package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.node.protocol.WireResult;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What the node sends besides {@code hello}, heartbeats and acks, and the welcomed connection it goes on. A result
 * is numbered ({@code seq}), kept until the orchestrator acknowledges that number, sent again after every welcome
 * and, while unacknowledged, on a timer (after {@code resend_ms}, doubling), so none is lost with a connection or a
 * response that never arrived. {@code started} and {@code output} go out only while connected: after a reconnect
 * the welcome reconciles what runs, and the result carries all the output.
 */
final class Outbox {
    /** An acknowledged result: its execution, and when its first copy left (what the ack confirms at least). */
    record Acked(String executionId, long firstSentNanos) {
    }

    /** A kept result; the times are {@link System#nanoTime()}, 0 while never sent. */
    private static final class Kept {
        final Result result;
        long firstSentNanos;
        long nextSendNanos;
        long waitNanos;

        Kept(Result result) {
            this.result = result;
        }
    }

    // Guarded by this.
    private final Map<String, Kept> unacked = new LinkedHashMap<>(); // by execution id, oldest first
    private final Map<Long, String> bySeq = new HashMap<>();
    private long nextSeq = 1;
    private long resendNanos = TimeUnit.SECONDS.toNanos(2); // from the welcome
    private Transport session; // the welcomed connection; null while disconnected

    /**
     * Welcomed on {@code t}: forgets the results of {@code disowned} (the welcome's {@code cancel}: no longer this
     * node's), then sends the others on {@code t}.
     */
    synchronized void connected(Transport t, Collection<String> disowned, int resendMillis) {
        disowned.forEach(this::forget);
        session = t;
        resendNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, resendMillis));
        notifyAll();
        // Results that finished while disconnected, or were sent but never acknowledged.
        long now = System.nanoTime();
        for (Kept k : unacked.values()) {
            k.waitNanos = resendNanos;
            send(k, now);
        }
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

    /** Numbers the result and keeps it until acknowledged; sends it now if connected. */
    synchronized void deliver(String executionId, WireResult result) {
        Result message = new Result(nextSeq++, executionId, result);
        forget(executionId); // a result replaces an older one of the same execution (none is expected)
        Kept k = new Kept(message);
        k.waitNanos = resendNanos;
        unacked.put(executionId, k);
        bySeq.put(message.seq(), executionId);
        send(k, System.nanoTime());
    }

    /** Sends the kept result of the execution again, if connected; false when none is kept. */
    synchronized boolean resend(String executionId) {
        Kept k = unacked.get(executionId);
        if (k == null) return false;
        send(k, System.nanoTime());
        return true;
    }

    /** Sends again, on the welcomed connection, the results whose ack is overdue; each waits twice as long next. */
    synchronized void resendOverdue() {
        if (session == null) return;
        long now = System.nanoTime();
        for (Kept k : unacked.values()) {
            if (now - k.nextSendNanos >= 0) {
                k.waitNanos = Math.min(2 * k.waitNanos, TimeUnit.MILLISECONDS.toNanos(Welcome.MAX_RESEND_MILLIS));
                send(k, now);
            }
        }
    }

    private void send(Kept k, long now) {
        if (session == null) return;
        session.send(k.result);
        if (k.firstSentNanos == 0) k.firstSentNanos = now;
        k.nextSendNanos = now + k.waitNanos;
    }

    /** The orchestrator recorded (or dropped) result {@code seq}: forgets it. Null when it was not kept. */
    synchronized Acked acked(long seq) {
        String id = bySeq.get(seq);
        if (id == null) return null;
        Kept k = unacked.get(id);
        forget(id);
        return new Acked(id, k.firstSentNanos);
    }

    private void forget(String executionId) {
        Kept k = unacked.remove(executionId);
        if (k != null) bySeq.remove(k.result.seq());
    }

    /** Whether a result of the execution is kept (sent or not, not yet acknowledged). */
    synchronized boolean holds(String executionId) {
        return unacked.containsKey(executionId);
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
