package dev.kiln.node.agent;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Started;
import dev.kiln.node.protocol.WireResult;
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
 * slot, which the orchestrator took back, which the node stopped itself when cut off past its lease. Runs them on
 * the {@link LocalComputeNode}; what they print and their results go out through the {@link Outbox}. A repeated
 * {@code execute} or {@code cancel} changes nothing ({@link ExecutionHistory}).
 *
 * <p>Lock order: {@code startLock}, then {@code lock}, then the outbox's.
 */
final class Executions {
    private static final Logger log = LoggerFactory.getLogger(Executions.class);

    private final String nodeId;
    private final LocalComputeNode node;
    private final NodeEnvironments environments;
    private final NodePools pools;
    private final Admission admission;
    private final Outbox outbox;
    private final OutputBatcher output;
    private volatile boolean closing;

    private final Object lock = new Object();
    // Guarded by lock.
    private final Set<String> running = new HashSet<>();
    private final Set<String> dropped = new HashSet<>(); // running, but not ours any more: taken back, or fenced
    private final ExecutionHistory history = new ExecutionHistory();
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
        this.admission = new Admission(nodeId, node, environments, jobTypes);
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

    /** Stopped executions the next hello reports ({@code interrupted}). */
    List<String> interrupted() {
        synchronized (lock) {
            return history.interrupted();
        }
    }

    /** A welcome answered the hello that reported these as interrupted. */
    void reported(List<String> interrupted) {
        synchronized (lock) {
            history.reported(interrupted);
        }
    }

    /** The orchestrator acknowledged the execution's result: a repeated execute of it is ignored from now on. */
    void acknowledged(String executionId) {
        synchronized (lock) {
            history.done(executionId);
        }
    }

    /**
     * Starts the execution, or answers with a failed result when this node cannot take it. An execute seen before
     * (a resend whose ack was lost) starts nothing; one whose cancel came first is answered cancelled.
     */
    void execute(Execute e) {
        ExecutionRequest request = e.request();
        String id = request.executionId();
        synchronized (lock) {
            if (running.contains(id) || history.isDone(id)) {
                log.debug("execution {} runs or ran here already; ignoring the repeated execute", id);
                return;
            }
            // It ran here already: the orchestrator has not seen the result yet.
            if (outbox.resend(id)) return;
            if (history.takeEarlyCancel(id)) {
                outbox.deliver(id, cancelledBeforeStart());
                return;
            }
        }
        ExecutionRequest local;
        try {
            local = admission.admit(e);
        } catch (Admission.Refusal why) {
            refuse(id, why.getMessage());
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
                    node.execute(w.request(), w.executor(),
                            new RunListener(w.executor(), environments, pools, output, this::completed));
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

    /**
     * The user cancelled it: it is killed (or never starts), and its result still goes out. A cancel that overtook
     * its execute is remembered, so the execute is answered cancelled when it comes.
     */
    void cancel(String executionId) {
        if (removeWaiting(executionId)) {
            outbox.deliver(executionId, cancelledBeforeStart());
            return;
        }
        synchronized (lock) {
            if (!running.contains(executionId)) {
                if (!outbox.holds(executionId) && !history.isDone(executionId)) history.cancelledEarly(executionId);
                return;
            }
        }
        node.cancel(executionId);
    }

    private static WireResult cancelledBeforeStart() {
        return WireResults.from(ExecutionResult.failure(JobStatus.CANCELLED,
                new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_SETUP)), null);
    }

    /**
     * The node was cut off from every orchestrator for longer than its lease, so its work may run elsewhere already:
     * kills what runs (its results are dropped), drops what waits, and keeps their ids for the next hello's
     * {@code interrupted}. Returns the ids stopped now (empty when nothing ran).
     */
    List<String> fence() {
        List<String> stopped = new ArrayList<>();
        List<String> kill = new ArrayList<>();
        synchronized (startLock) {
            synchronized (lock) {
                for (String id : running) {
                    if (!dropped.contains(id)) stopped.add(id);
                }
                for (String id : stopped) {
                    history.interrupted(id);
                    if (!waiting.removeIf(w -> w.request().executionId().equals(id))) {
                        dropped.add(id);
                        kill.add(id);
                    }
                }
                running.removeIf(id -> stopped.contains(id) && !kill.contains(id)); // never started
            }
        }
        kill.forEach(node::cancel);
        return stopped;
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
            executionIds.forEach(history::done);
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

    private void refuse(String executionId, String why) {
        log.warn("execution {} refused: {}", executionId, why);
        outbox.deliver(executionId, WireResults.refused(why));
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
        WireResult message = WireResults.from(result, request.layerDigest());
        synchronized (lock) {
            running.remove(id);
            if (dropped.remove(id)) return; // re-queued elsewhere, or stopped by the fence (reported in hello)
        }
        outbox.deliver(id, message);
    }
}
