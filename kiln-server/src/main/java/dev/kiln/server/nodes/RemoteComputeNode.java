package dev.kiln.server.nodes;

import dev.kiln.core.ComputeNode;
import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.node.protocol.NodeMessage;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A compute node in another process, as the orchestrator sees it: what it said in its last {@code hello}, the
 * connection it is reachable on (null while disconnected), and the executions pushed to it that have not returned a
 * result (each holds one of its credits).
 */
public final class RemoteComputeNode implements ComputeNode {
    /** An execution pushed to the node, and who gets its result. */
    record Assigned(ExecutionRequest request, ExecutionListener listener) {
    }

    private final String id;
    private volatile NodeMessage.Hello hello;
    private volatile NodeChannel channel;
    private volatile long lastHeardNanos;
    private volatile boolean lost;
    private volatile Instant connectedSince;
    private volatile int connections;
    private final Map<String, Assigned> assigned = new ConcurrentHashMap<>();
    private final List<Runnable> slotListeners = new CopyOnWriteArrayList<>();

    RemoteComputeNode(String id, NodeMessage.Hello hello) {
        this.id = id;
        this.hello = hello;
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

    @Override
    public void execute(ExecutionRequest request, String executor, ExecutionListener listener) {
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
        c.send(new NodeMessage.Execute(request, executor));
    }

    @Override
    public void cancel(String executionId) {
        NodeChannel c = channel;
        if (c != null && assigned.containsKey(executionId)) c.send(new NodeMessage.Cancel(executionId));
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

    /** Makes the node reachable on {@code c} and tells placement it has room. */
    void attach(NodeChannel c) {
        lost = false;
        connectedSince = Instant.now();
        connections++;
        heard();
        channel = c;
        slotListeners.forEach(Runnable::run);
    }

    /** Detaches {@code c} if it is still the node's connection; true when it was. */
    synchronized boolean detach(NodeChannel c) {
        if (channel != c || c == null) return false;
        channel = null;
        return true;
    }

    void heard() {
        lastHeardNanos = System.nanoTime();
    }

    long silentNanos() {
        return System.nanoTime() - lastHeardNanos;
    }

    void markLost() {
        lost = true;
        assigned.clear();
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

    /** Keeps only the assignments the node still holds (its reconnect {@code hello} said so). */
    void retainAssigned(Set<String> holding) {
        assigned.keySet().retainAll(holding);
    }

    Assigned assigned(String executionId) {
        return assigned.get(executionId);
    }

    /** The execution's credit returns; null when it was not (or no longer) the node's. */
    Assigned release(String executionId) {
        Assigned a = assigned.remove(executionId);
        if (a != null) slotListeners.forEach(Runnable::run);
        return a;
    }
}
