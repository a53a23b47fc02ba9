package dev.kiln.core;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An in-process node that runs nothing: it holds what it is given until the test answers it (or never does, like
 * a node whose messages were lost), and records cancels.
 */
final class ScriptedNode implements ComputeNode {
    record Held(ExecutionRequest request, ExecutionListener listener) {
    }

    private final String id;
    private final int slots;
    private final boolean remote;
    final Map<String, Held> held = new ConcurrentHashMap<>();
    final List<String> cancels = new CopyOnWriteArrayList<>();
    private final List<Runnable> slotListeners = new CopyOnWriteArrayList<>();

    ScriptedNode(String id, int slots) {
        this(id, slots, false);
    }

    private ScriptedNode(String id, int slots, boolean remote) {
        this.id = id;
        this.slots = slots;
        this.remote = remote;
    }

    /** A node outside the orchestrator's process: it can be adopted by another replica after a move. */
    static ScriptedNode remote(String id, int slots) {
        return new ScriptedNode(id, slots, true);
    }

    @Override
    public boolean inProcess() {
        return !remote;
    }

    @Override
    public void adopt(ExecutionRequest request, ExecutionListener listener) {
        if (!remote) throw new UnsupportedOperationException("an in-process node cannot adopt");
        held.put(request.executionId(), new Held(request, listener));
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public int capacity() {
        return slots;
    }

    @Override
    public int freeSlots() {
        return slots - held.size();
    }

    @Override
    public Set<String> executors() {
        return Set.of("noop");
    }

    @Override
    public Map<String, String> labels() {
        return Map.of();
    }

    @Override
    public String defaultExecutor() {
        return "noop";
    }

    @Override
    public void execute(ExecutionRequest request, String executor, ExecutionListener listener) {
        if (freeSlots() <= 0) throw new IllegalStateException("no free slot");
        held.put(request.executionId(), new Held(request, listener));
        listener.started(request);
    }

    @Override
    public void cancel(String executionId) {
        cancels.add(executionId);
    }

    @Override
    public void onSlotFreed(Runnable listener) {
        slotListeners.add(listener);
    }

    /** Answers a held execution as the node would: frees the slot, then reports. */
    void succeed(String executionId) {
        Held h = held.remove(executionId);
        if (h == null) throw new AssertionError("node " + id + " holds no execution " + executionId);
        slotListeners.forEach(Runnable::run);
        h.listener().completed(h.request(), new ExecutionResult(JobStatus.SUCCEEDED, 0, "ok\n", "", false, false,
                null, null, 0, 1, List.of()));
    }

    /** Answers a held execution with files it wrote under /output. */
    void succeedWith(String executionId, List<CollectedArtifact> artifacts) {
        Held h = held.remove(executionId);
        if (h == null) throw new AssertionError("node " + id + " holds no execution " + executionId);
        slotListeners.forEach(Runnable::run);
        h.listener().completed(h.request(), new ExecutionResult(JobStatus.SUCCEEDED, 0, "late\n", "", false, false,
                null, null, 0, 1, artifacts));
    }

    /** Forgets a held execution without answering (its result was lost). */
    void forget(String executionId) {
        held.remove(executionId);
        slotListeners.forEach(Runnable::run);
    }
}
