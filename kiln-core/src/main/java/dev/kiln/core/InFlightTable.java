package dev.kiln.core;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The executions this orchestrator has handed to its nodes: a cache of the store's running executions it holds,
 * rebuilt from the store (re-queued at start-up, adopted when a node reconnects), and the cancels asked for jobs
 * that may be (about to be) among them.
 */
final class InFlightTable {
    /**
     * An execution handed to a node; {@code job} is the RUNNING record whose version fences the result;
     * {@code readyAt} is when the job became ready (for the dispatch latency); past {@code deadline} (its timeout
     * plus the execution grace) without a result it is taken back.
     */
    record InFlight(JobRecord job, ComputeNode node, String layerDigest, Instant readyAt, Instant deadline) {
        String executionId() {
            return job.currentExecutionId();
        }
    }

    private final Map<String, InFlight> byJob = new ConcurrentHashMap<>();
    private final Set<String> cancelRequested = ConcurrentHashMap.newKeySet();

    void put(InFlight f) {
        byJob.put(f.job().id(), f);
    }

    InFlight get(String jobId) {
        return byJob.get(jobId);
    }

    /** False when something else (its result, a re-queue) took it out first. */
    boolean remove(InFlight f) {
        return byJob.remove(f.job().id(), f);
    }

    boolean contains(String jobId) {
        return byJob.containsKey(jobId);
    }

    Collection<InFlight> all() {
        return byJob.values();
    }

    int size() {
        return byJob.size();
    }

    List<InFlight> onNode(String nodeId) {
        List<InFlight> out = new ArrayList<>();
        for (InFlight f : byJob.values()) if (f.node().id().equals(nodeId)) out.add(f);
        return out;
    }

    int countOnNode(String nodeId) {
        int n = 0;
        for (InFlight f : byJob.values()) if (f.node().id().equals(nodeId)) n++;
        return n;
    }

    boolean anyInProcess() {
        for (InFlight f : byJob.values()) if (f.node().inProcess()) return true;
        return false;
    }

    /** Ids of the connected nodes that run executions of ours: the leases to renew. */
    Set<String> connectedNodeIds() {
        Set<String> ids = new java.util.HashSet<>();
        for (InFlight f : byJob.values()) if (f.node().connected()) ids.add(f.node().id());
        return ids;
    }

    void requestCancel(String jobId) {
        cancelRequested.add(jobId);
    }

    boolean cancelRequested(String jobId) {
        return cancelRequested.contains(jobId);
    }

    /** Whether a cancel was asked for, forgetting it. */
    boolean takeCancel(String jobId) {
        return cancelRequested.remove(jobId);
    }

    void forgetCancel(String jobId) {
        cancelRequested.remove(jobId);
    }
}
