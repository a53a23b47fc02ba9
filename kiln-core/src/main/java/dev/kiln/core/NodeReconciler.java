package dev.kiln.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Squares what a node says it holds with what this replica and the store say it should: on a reconnect (to this
 * replica after a restart, or moved here from another replica) and when a node is lost.
 */
final class NodeReconciler {
    private static final Logger log = LoggerFactory.getLogger(NodeReconciler.class);

    private final JobStore store;
    private final InFlightTable inFlight;
    private final Dispatcher dispatcher;

    NodeReconciler(JobStore store, InFlightTable inFlight, Dispatcher dispatcher) {
        this.store = store;
        this.inFlight = inFlight;
        this.dispatcher = dispatcher;
    }

    /** The node is gone (lease expired, removed): its executions here are re-queued, preferring other nodes. */
    int nodeLost(String nodeId, String reason) {
        List<InFlightTable.InFlight> lost = inFlight.onNode(nodeId);
        lost.forEach(f -> dispatcher.takeBack(f, reason));
        if (!lost.isEmpty()) log.info("{}: re-queued {} execution(s)", reason, lost.size());
        return lost.size();
    }

    /**
     * A node (re)connected holding {@code holding} executions. Executions this replica has on that node but the node
     * does not hold are re-queued; executions it holds that the store shows running on it (after a restart, or
     * handed over from a replica that died) are adopted; the rest are no longer the node's, and the returned list
     * says which it must cancel.
     */
    List<String> reconcile(ComputeNode node, Set<String> holding) {
        for (InFlightTable.InFlight f : inFlight.onNode(node.id())) {
            if (!holding.contains(f.executionId())) {
                dispatcher.takeBack(f, "node " + node.id() + " reconnected without execution " + f.executionId());
            }
        }
        List<String> cancel = new ArrayList<>();
        for (String executionId : holding) {
            int dash = executionId.lastIndexOf('-');
            String jobId = dash > 0 ? executionId.substring(0, dash) : executionId;
            InFlightTable.InFlight f = inFlight.get(jobId);
            if (f != null && f.node().id().equals(node.id()) && f.executionId().equals(executionId)) {
                continue; // still ours, and the node still runs it
            }
            if (f == null && adopted(node, jobId, executionId)) continue;
            cancel.add(executionId);
        }
        return cancel;
    }

    /**
     * Adopts the execution if the store shows it running on this node, taking it over in the store; true when it
     * did.
     */
    private boolean adopted(ComputeNode node, String jobId, String executionId) {
        try {
            Optional<JobRecord> job = store.find(jobId);
            if (job.isEmpty() || job.get().status() != JobStatus.RUNNING || !node.id().equals(job.get().nodeId())
                    || !job.get().currentExecutionId().equals(executionId)) {
                return false;
            }
            // The version moves on: a replica that held it before (alive, cut off from the node) can no longer
            // re-queue it as lost, which would run it a second time, nor record a result for it.
            if (!store.adopt(jobId, job.get().version(), node.id())) return false;
            boolean cancelRequested = store.executions(jobId).stream()
                    .anyMatch(e -> e.id().equals(executionId) && e.cancelRequested());
            dispatcher.adopt(node, job.get().withVersion(job.get().version() + 1), cancelRequested);
            return true;
        } catch (StoreUnavailableException e) {
            // Cannot tell now; keep it running: the node reports it again on its next reconnect, and the lease
            // sweep takes it back if no one ever holds it.
            log.warn("could not check execution {} of node {}: {}", executionId, node.id(), e.getMessage());
            return true;
        }
    }
}
