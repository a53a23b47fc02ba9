package dev.kiln.server.nodes;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.node.protocol.NodeMessage;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * A compute node in another process, as the orchestrator sees it: what it said in its last {@code hello}, the
 * connection it is reachable on (null while disconnected), the executions pushed to it that have not returned a
 * result (each holds one of its credits), and the {@code execute} and {@code cancel} messages it has not
 * acknowledged yet ({@link PendingMessages}: kept across disconnects, resent until acknowledged). Sending and
 * switching connections synchronize on this object, so nothing is sent on a connection after it was replaced.
 */
public final class RemoteComputeNode implements ComputeNode {
    /** An execution pushed to the node, and who gets its result; {@code started} is reported once. */
    record Assigned(ExecutionRequest request, ExecutionListener listener, AtomicBoolean started) {
        Assigned(ExecutionRequest request, ExecutionListener listener) {
            this(request, listener, new AtomicBoolean());
        }
    }

    private static final int MAX_EARLY_CANCELS = 10_000;

    private final String id;
    private final LongSupplier seqs;
    private final LongSupplier nanoTime;
    private volatile NodeMessage.Hello hello;
    private volatile NodeChannel channel;
    private volatile long lastHeardNanos;
    private volatile boolean lost;
    private volatile Instant connectedSince;
    private volatile int connections;
    private final Map<String, Assigned> assigned = new ConcurrentHashMap<>();
    private final Set<String> recording = ConcurrentHashMap.newKeySet(); // a result of it is being recorded
    private final List<Runnable> slotListeners = new CopyOnWriteArrayList<>();
    // Guarded by this.
    private final PendingMessages pending;
    private final Set<String> earlyCancels = Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > MAX_EARLY_CANCELS;
        }
    });

    /**
     * @param seqs     numbers the reliable messages (unique in this orchestrator)
     * @param nanoTime the monotonic clock leases and resends are measured with
     */
    RemoteComputeNode(String id, NodeMessage.Hello hello, LongSupplier seqs, int resendMillis, LongSupplier nanoTime) {
        this.id = id;
        this.hello = hello;
        this.seqs = seqs;
        this.nanoTime = nanoTime;
        this.pending = new PendingMessages(resendMillis, nanoTime);
        this.lastHeardNanos = nanoTime.getAsLong();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int capacity() {
        return hello.slots();
    }

    /** Credits left: slots minus executions pushed and not yet returned; none while disconnected. */
    @Override
    public int freeSlots() {
        return channel == null ? 0 : Math.max(0, hello.slots() - assigned.size());
    }

    @Override
    public boolean capsJobType(String jobType) {
        return hello.typeSlots().containsKey(jobType);
    }

    @Override
    public int freeSlotsFor(String jobType) {
        Integer cap = hello.typeSlots().get(jobType);
        int free = freeSlots();
        if (cap == null) return free;
        int running = 0;
        for (Assigned a : assigned.values()) if (a.request().jobType().name().equals(jobType)) running++;
        return Math.max(0, Math.min(free, cap - running));
    }

    @Override
    public Set<String> executors() {
        return hello.executors();
    }

    @Override
    public Map<String, String> labels() {
        return hello.labels();
    }

    @Override
    public String defaultExecutor() {
        return hello.defaultExecutor();
    }

    @Override
    public boolean offersJobType(String jobType) {
        List<String> types = hello.jobTypes();
        return types == null || types.contains(jobType);
    }

    @Override
    public boolean connected() {
        return channel != null;
    }

    @Override
    public boolean inProcess() {
        return false;
    }

    /** Sent now, and resent until acknowledged; a cancel that came first follows it at once. */
    @Override
    public synchronized void execute(ExecutionRequest request, String executor, ExecutionListener listener) {
        NodeChannel c = channel;
        if (c == null) throw new IllegalStateException("node " + id + " is not connected");
        if (!executors().contains(executor)) {
            throw new IllegalArgumentException("node " + id + " has no executor '" + executor + "'");
        }
        if (assigned.size() >= hello.slots()) throw new IllegalStateException("node " + id + " has no credit left");
        if (freeSlotsFor(request.jobType().name()) == 0) {
            throw new IllegalStateException("node " + id + " runs as many jobs of type " + request.jobType().name()
                    + " as it allows");
        }
        assigned.put(request.executionId(), new Assigned(request, listener));
        sendReliably(new NodeMessage.Execute(seqs.getAsLong(), request, executor));
        if (earlyCancels.remove(request.executionId())) {
            sendReliably(new NodeMessage.Cancel(seqs.getAsLong(), request.executionId()));
        }
    }

    /**
     * Sent now if connected, else after the next welcome, and resent until acknowledged. A cancel for an execution
     * not handed to this node yet (the orchestrator cancels while it is being handed over) is kept for its execute.
     */
    @Override
    public synchronized void cancel(String executionId) {
        if (assigned.containsKey(executionId)) {
            sendReliably(new NodeMessage.Cancel(seqs.getAsLong(), executionId));
        } else if (!recording.contains(executionId)) {
            earlyCancels.add(executionId);
        }
    }

    private void sendReliably(NodeMessage.Reliable m) {
        pending.add(m);
        NodeChannel c = channel;
        if (c != null) c.send(m);
    }

    @Override
    public void adopt(ExecutionRequest request, ExecutionListener listener) {
        assigned.put(request.executionId(), new Assigned(request, listener));
    }

    @Override
    public void onSlotFreed(Runnable listener) {
        slotListeners.add(listener);
    }

    // ---- used by the gateway ----

    NodeChannel channel() {
        return channel;
    }

    void hello(NodeMessage.Hello h) {
        this.hello = h;
    }

    NodeMessage.Hello lastHello() {
        return hello;
    }

    /**
     * Makes the node reachable on {@code c}, sends it what it has not acknowledged (after the welcome, in the order
     * first sent), and tells placement it has room.
     */
    void attach(NodeChannel c) {
        synchronized (this) {
            lost = false;
            connectedSince = Instant.now();
            connections++;
            heard();
            channel = c;
            pending.all().forEach(c::send);
        }
        slotListeners.forEach(Runnable::run);
    }

    /** Sends again what the node has not acknowledged in time. */
    synchronized void resendOverdue() {
        NodeChannel c = channel;
        if (c != null) pending.overdue().forEach(c::send);
    }

    /** The node acknowledged reliable message {@code seq}. */
    synchronized void acked(long seq) {
        pending.acked(seq);
    }

    /** Executions whose execute the node has not acknowledged (sent again after its welcome). */
    synchronized Set<String> unacknowledgedExecutes() {
        return pending.executes();
    }

    /** Messages not acknowledged yet. */
    synchronized int pendingCount() {
        return pending.size();
    }

    /** Detaches {@code c} if it is still the node's connection; true when it was. */
    synchronized boolean detach(NodeChannel c) {
        if (channel != c || c == null) return false;
        channel = null;
        return true;
    }

    void heard() {
        lastHeardNanos = nanoTime.getAsLong();
    }

    long silentNanos() {
        return nanoTime.getAsLong() - lastHeardNanos;
    }

    synchronized void markLost() {
        lost = true;
        assigned.clear();
        pending.clear();
    }

    boolean lost() {
        return lost;
    }

    Instant connectedSince() {
        return connectedSince;
    }

    int connections() {
        return connections;
    }

    /** Keeps only the assignments (and unacknowledged messages) of executions the node still holds. */
    synchronized void retainAssigned(Set<String> holding) {
        assigned.keySet().retainAll(holding);
        pending.retain(holding);
    }

    Assigned assigned(String executionId) {
        return assigned.get(executionId);
    }

    /** The node started the execution (its execute arrived); the assignment the first time, else null. */
    synchronized Assigned started(String executionId) {
        pending.started(executionId);
        Assigned a = assigned.get(executionId);
        return a != null && a.started().compareAndSet(false, true) ? a : null;
    }

    /**
     * A result of the execution arrived: its credit returns and it is being recorded until {@link #recorded};
     * null when it was not (or no longer) the node's.
     */
    Assigned release(String executionId) {
        Assigned a;
        synchronized (this) {
            pending.finished(executionId);
            a = assigned.remove(executionId);
            if (a != null) recording.add(executionId);
        }
        if (a != null) slotListeners.forEach(Runnable::run);
        return a;
    }

    /** Whether a copy of the execution's result is being recorded now (a resent copy then waits for its ack). */
    boolean recording(String executionId) {
        return recording.contains(executionId);
    }

    /**
     * Recording the result ended; {@code retry}: it failed, so the assignment comes back and the node's resend is
     * recorded (unless the node was lost meanwhile: its work was re-queued).
     */
    synchronized void recorded(Assigned a, boolean retry) {
        recording.remove(a.request().executionId());
        if (retry && !lost) assigned.put(a.request().executionId(), a);
    }
}
