package dev.kiln.server.nodes;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Reliable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The {@code execute} and {@code cancel} messages sent to one node and not acknowledged yet, in the order they were
 * sent: all are sent again after each welcome, and one whose ack is overdue on a timer (after {@code resend_ms},
 * doubling up to {@link NodeMessage.Welcome#MAX_RESEND_MILLIS}). A {@code started} or {@code result} of the
 * execution answers its execute too (it arrived), and a result makes its cancel moot. Not thread-safe: its
 * {@link RemoteComputeNode} guards it.
 */
final class PendingMessages {
    private static final class Entry {
        final Reliable message;
        long nextSendNanos;
        long waitNanos;

        Entry(Reliable message) {
            this.message = message;
        }
    }

    private final Map<Long, Entry> bySeq = new LinkedHashMap<>();
    private final long resendNanos;
    private final LongSupplier nanoTime;

    PendingMessages(int resendMillis, LongSupplier nanoTime) {
        this.resendNanos = TimeUnit.MILLISECONDS.toNanos(resendMillis);
        this.nanoTime = nanoTime;
    }

    /** Keeps {@code m} until acknowledged; the caller sends it (now, or with {@link #all()} after a welcome). */
    void add(Reliable m) {
        Entry e = new Entry(m);
        e.waitNanos = resendNanos;
        e.nextSendNanos = nanoTime.getAsLong() + resendNanos;
        bySeq.put(m.seq(), e);
    }

    /** Everything kept, oldest first, to send on a new connection; their timers start again. */
    List<Reliable> all() {
        long now = nanoTime.getAsLong();
        List<Reliable> out = new ArrayList<>(bySeq.size());
        for (Entry e : bySeq.values()) {
            e.waitNanos = resendNanos;
            e.nextSendNanos = now + resendNanos;
            out.add(e.message);
        }
        return out;
    }

    /** The messages whose ack is overdue, oldest first; each then waits twice as long. */
    List<Reliable> overdue() {
        if (bySeq.isEmpty()) return List.of();
        long now = nanoTime.getAsLong();
        List<Reliable> out = new ArrayList<>();
        for (Entry e : bySeq.values()) {
            if (now - e.nextSendNanos < 0) continue;
            e.waitNanos = Math.min(2 * e.waitNanos,
                    TimeUnit.MILLISECONDS.toNanos(NodeMessage.Welcome.MAX_RESEND_MILLIS));
            e.nextSendNanos = now + e.waitNanos;
            out.add(e.message);
        }
        return out;
    }

    /** The node acknowledged {@code seq}; false when it was not kept (a late or unknown ack). */
    boolean acked(long seq) {
        return bySeq.remove(seq) != null;
    }

    /** The node reported the execution started: its execute arrived. */
    void started(String executionId) {
        bySeq.values().removeIf(e -> e.message instanceof NodeMessage.Execute
                && e.message.executionId().equals(executionId));
    }

    /** The execution's result arrived: its execute arrived, and a cancel has nothing left to do. */
    void finished(String executionId) {
        bySeq.values().removeIf(e -> e.message.executionId().equals(executionId));
    }

    /** Keeps only the messages of these executions. */
    void retain(Set<String> executionIds) {
        bySeq.values().removeIf(e -> !executionIds.contains(e.message.executionId()));
    }

    /** Executions whose execute was sent and not acknowledged yet. */
    Set<String> executes() {
        Set<String> ids = new LinkedHashSet<>();
        for (Entry e : bySeq.values()) {
            if (e.message instanceof NodeMessage.Execute) ids.add(e.message.executionId());
        }
        return ids;
    }

    void clear() {
        bySeq.clear();
    }

    int size() {
        return bySeq.size();
    }
}
