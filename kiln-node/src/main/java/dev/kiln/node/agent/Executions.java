package dev.kiln.node.agent;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executions a remote node holds, from {@code execute} to their result: which run, which wait for the node's
 * slot, which the orchestrator took back. Runs them on the {@link LocalComputeNode}; what they print and their
 * results go out through the {@link Outbox}.
 *
 * <p>Lock order: {@code startLock}, then {@code lock}, then the outbox's.
 */
final class Executions {
    private static final Logger log = LoggerFactory.getLogger(Executions.class);

    private final String nodeId;
    private final LocalComputeNode node;
    private final NodeEnvironments environments;
    private final NodePools pools;
    private final List<String> jobTypes; // null: any
    private final Outbox outbox;
    private final OutputBatcher output;
    private volatile boolean closing;

    private final Object lock = new Object();
    // Guarded by lock.
    private final Set<String> running = new HashSet<>();
    private final Set<String> dropped = new HashSet<>(); // running, but the orchestrator said they are not ours
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>(); // accepted, waiting for the node's slot
    private final Object startLock = new Object(); // one thread at a time starts waiting executions

    /**
     * An accepted execution whose slot the node has not released yet: a result goes out (and the orchestrator may
     * send the next execution) just before the node frees the slot and deletes the work dir; and an execution the
     * orchestrator took back in a welcome holds its slot until it has been killed.
     */
    private record Waiting(ExecutionRequest request, String executor) {
    }

    /**
     * Call {@link #startWaiting()} whenever the node frees a slot.
     *
     * @param jobTypes the job types this node takes; null: any
     * @param timer    gathers live output ({@link OutputBatcher})
     */
    Executions(String nodeId, LocalComputeNode node, NodeEnvironments environments, NodePools pools,
               List<String> jobTypes, Outbox outbox, ScheduledExecutorService timer) {
        this.nodeId = nodeId;
        this.node = node;
        this.environments = environments;
        this.pools = pools;
        this.jobTypes = jobTypes;
        this.outbox = outbox;
        this.output = new OutputBatcher(timer, this::sendOutput);
    }

    /** What {@code hello} claims: running executions not taken back, and results not acknowledged. */
    List<String> holding() {
        Set<String> holding = new LinkedHashSet<>();
        synchronized (lock) {
            running.stream().filter(id -> !dropped.contains(id)).forEach(holding::add);
            outbox.addUnackedTo(holding);
        }
        return List.copyOf(holding);
    }

    /** {@code free} counts as the credits do: a slot is free once its result is out. */
    Heartbeat heartbeat() {
        int busy;
        synchronized (lock) {
            busy = creditsInUseLocked();
        }
        return new Heartbeat(Math.max(0, node.capacity() - busy), busy);
    }

    /**
     * Executions the orchestrator counts against this node's credits: not those it took back in a welcome, which
     * may still be dying here (their slots are waited for, see {@link Waiting}).
     */
    private int creditsInUseLocked() {
        return running.size() - dropped.size();
    }

    /** Starts the execution, or answers with a failed result when this node cannot take it. */
    void execute(Execute e) {
        ExecutionRequest request = e.request();
        String id = request.executionId();
        synchronized (lock) {
            if (running.contains(id)) {
                log.warn("execution {} already runs here; ignoring the repeated execute", id);
                return;
            }
            // It ran here already: the orchestrator has not seen the result yet.
            if (outbox.resend(id)) return;
        }
        String type = request.jobType().name();
        if (jobTypes != null && !jobTypes.contains(type)) {
            refuse(id, "node " + nodeId + " does not take job type '" + type + "' (only " + jobTypes + ")");
            return;
        }
        if (!node.executors().contains(e.executor())) {
            refuse(id, "node " + nodeId + " has no executor '" + e.executor() + "' (it has " + node.executors() + ")");
            return;
        }
        ExecutionRequest local;
        try {
            // The orchestrator's layer_digest is its own host's; this node runs on the layer it digests itself.
            local = withLayer(request, environments.digestToRun(request.jobType()));
        } catch (LayerUnavailableException ex) {
            refuse(id, ex.getMessage());
            return;
        }
        synchronized (lock) {
            if (creditsInUseLocked() >= node.capacity()) {
                refuse(id, "node " + nodeId + " has no free slot (all " + node.capacity() + " busy)");
                return;
            }
            running.add(id);
            waiting.add(new Waiting(local, e.executor()));
            // Started goes out before the execution can possibly finish, so the result always follows it.
            outbox.sendIfConnected(new Started(id));
        }
        startWaiting();
    }

    /** Starts waiting executions while the node has slots; called again whenever the node frees one. */
    void startWaiting() {
        synchronized (startLock) {
            while (!closing) {
                Waiting w;
                synchronized (lock) {
                    w = waiting.peek();
                }
                if (w == null) return;
                try {
                    node.execute(w.request(), w.executor(), listenerFor(w.executor()));
                } catch (IllegalStateException noSlot) {
                    return; // the slot is released in a moment, and this runs again
                } catch (RuntimeException ex) {
                    String id = w.request().executionId();
                    removeWaiting(id);
                    synchronized (lock) {
                        running.remove(id);
                        dropped.remove(id);
                        refuse(id, "node " + nodeId + " could not start the execution: " + ex.getMessage());
                    }
                    continue;
                }
                synchronized (lock) {
                    waiting.remove(w);
                }
            }
        }
    }

    /** Removes an execution that has not started yet; true when it was waiting (it never will start). */
    private boolean removeWaiting(String executionId) {
        synchronized (startLock) {
            synchronized (lock) {
                boolean removed = waiting.removeIf(w -> w.request().executionId().equals(executionId));
                if (removed) running.remove(executionId);
                return removed;
            }
        }
    }

    /** The user cancelled it: it is killed (or never starts), and its result still goes out. */
    void cancel(String executionId) {
        if (removeWaiting(executionId)) {
            outbox.deliver(new Result(executionId, WireResults.from(ExecutionResult.failure(JobStatus.CANCELLED,
                    new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_SETUP)), null)));
        } else {
            node.cancel(executionId);
        }
    }

    /**
     * A welcome's {@code cancel}: executions that are no longer this node's (re-queued elsewhere, or finished). Those
     * still here are killed and their results dropped; the outbox forgets the results it keeps of them.
     */
    void disown(List<String> executionIds) {
        List<String> kill = new ArrayList<>();
        for (String id : executionIds) {
            if (!removeWaiting(id)) kill.add(id); // one that never started needs no killing
        }
        synchronized (lock) {
            for (String id : kill) {
                if (running.contains(id)) dropped.add(id);
            }
        }
        kill.forEach(node::cancel);
        if (!executionIds.isEmpty()) {
            log.info("dropped {} execution(s) that are no longer this node's: {}", executionIds.size(), executionIds);
        }
    }

    /** Starts nothing more (the agent is closing; what runs is killed with the node). */
    void closing() {
        closing = true;
    }

    private static ExecutionRequest withLayer(ExecutionRequest r, String digest) {
        return new ExecutionRequest(r.executionId(), r.jobId(), r.attempt(), r.spec(), r.jobType(), r.timeoutSeconds(),
                r.outputLimits(), digest);
    }

    private void refuse(String executionId, String why) {
        log.warn("execution {} refused: {}", executionId, why);
        outbox.deliver(new Result(executionId, WireResults.refused(why)));
    }

    /**
     * Live output goes out as it comes (coalesced); the result after it. Once a type has run here (its layer built),
     * its warm pool is set up for the next ones. The execution holds its layer from its start (before the layer is
     * provisioned) to its result, so the node's layer collector cannot remove it in between.
     */
    private ExecutionListener listenerFor(String executor) {
        return new ExecutionListener() {
            private NodeLayerCollector.ExecutionHold layer = NodeLayerCollector.ExecutionHold.NONE;

            @Override
            public void started(ExecutionRequest request) {
                layer = environments.hold(request.layerDigest());
            }

            @Override
            public void completed(ExecutionRequest request, ExecutionResult result) {
                try {
                    Executions.this.completed(request, result);
                    if (result.error() == null || !JobError.PHASE_SETUP.equals(result.error().phase())) {
                        pools.ran(request.jobType(), request.layerDigest(), executor);
                    }
                } finally {
                    layer.close();
                }
            }

            @Override
            public void output(ExecutionRequest request, String stream, byte[] bytes) {
                output.add(request.executionId(), stream, bytes);
            }
        };
    }

    /** Best effort: live output is not kept across reconnects (the result carries all of it). */
    private void sendOutput(NodeMessage.Output o) {
        synchronized (lock) {
            if (running.contains(o.executionId()) && !dropped.contains(o.executionId())) {
                outbox.sendIfConnected(o);
            }
        }
    }

    /** Called on the execution's thread; its artifact files are deleted once this returns, so they are read now. */
    private void completed(ExecutionRequest request, ExecutionResult result) {
        String id = request.executionId();
        output.flush(id);
        Result message = new Result(id, WireResults.from(result, request.layerDigest()));
        synchronized (lock) {
            running.remove(id);
            if (dropped.remove(id)) return; // the orchestrator re-queued it elsewhere
        }
        outbox.deliver(message);
    }
}
