package dev.kiln.core;

import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this replica's caches in step with what every replica does to the shared store, driven by its signals:
 * jobs queued through another replica join this one's ready queue (so any replica's nodes can run them), finished
 * ones leave it and wake this replica's waiters, and a cancel reaches the execution wherever it runs. A replica's
 * own signals come back to it too and change nothing. After {@code RESYNC} (signals may have been lost) the ready
 * queue and the waiters are checked against the store.
 */
final class ReplicaSync implements StoreSignals.Listener {
    private static final Logger log = LoggerFactory.getLogger(ReplicaSync.class);

    private final JobStore store;
    private final OwnSignals own;
    private final ReadyQueue ready;
    private final InFlightTable inFlight;
    private final CompletionWaiters waiters;
    private final Function<JobRecord, ReadyQueue.Waiting> foreignWaiting;
    private final int maxQueued;
    private final Runnable wake;
    private final java.time.InstantSource clock;

    ReplicaSync(JobStore store, OwnSignals own, ReadyQueue ready, InFlightTable inFlight, CompletionWaiters waiters,
                Function<JobRecord, ReadyQueue.Waiting> foreignWaiting, int maxQueued, Runnable wake,
                java.time.InstantSource clock) {
        this.clock = clock;
        this.store = store;
        this.own = own;
        this.ready = ready;
        this.inFlight = inFlight;
        this.waiters = waiters;
        this.foreignWaiting = foreignWaiting;
        this.maxQueued = maxQueued;
        this.wake = wake;
    }

    @Override
    public void signal(StoreSignals.Topic topic, String id) {
        if (own.isEcho(topic, id)) return;
        try {
            switch (topic) {
                case QUEUED -> queued(id);
                case FINISHED -> finished(id);
                case CANCEL -> cancel(id);
                case RESYNC -> resync();
                case NODES, FOLLOW, OUTPUT -> {
                    // the node directory's and the live output's
                }
            }
        } catch (StoreUnavailableException e) {
            // The store is the truth and it is away: the next RESYNC or the next signal brings this replica up to date.
            log.debug("could not follow signal {} {}: {}", topic, id, e.getMessage());
        }
    }

    /**
     * Jobs queued through another replica, by when we heard: most are run by that replica within the steal delay,
     * so one is read from the store only once it has waited that long ({@link #adoptWaiting}) and not finished.
     */
    private final java.util.Map<String, java.time.Instant> heard = new java.util.concurrent.ConcurrentHashMap<>();

    private void queued(String jobId) {
        if (ready.contains(jobId) || inFlight.contains(jobId)) return; // our own, or already here
        heard.put(jobId, clock.instant());
        wake.run();
    }

    /** How often the leader looks for queued jobs no replica announced. */
    static final java.time.Duration UNANNOUNCED_SWEEP_EVERY = java.time.Duration.ofSeconds(10);
    /** The oldest queued jobs it reads each time (the stuck ones are the oldest). */
    static final int UNANNOUNCED_SWEEP_LIMIT = 2_000;
    private java.time.Instant lastSweep = java.time.Instant.EPOCH;

    /**
     * The leader's safety net, every {@link #UNANNOUNCED_SWEEP_EVERY}: queued jobs in the store that this replica
     * does not know are taken as heard, so they are stolen after the steal delay like any other replica's. Such a
     * job was inserted by a replica that died before its QUEUED signal went out, or that restarted without nodes
     * (its own nodes moved to other replicas meanwhile) and holds jobs it cannot place. Dispatcher thread only.
     */
    void sweepUnannounced(boolean leader) {
        if (!leader) return;
        java.time.Instant now = clock.instant();
        if (now.isBefore(lastSweep.plus(UNANNOUNCED_SWEEP_EVERY))) return;
        lastSweep = now;
        int found = 0;
        for (JobRecord j : store.findByStatus(JobStatus.QUEUED, UNANNOUNCED_SWEEP_LIMIT)) {
            if (ready.contains(j.id()) || inFlight.contains(j.id()) || heard.containsKey(j.id())) continue;
            heard.put(j.id(), now);
            found++;
        }
        if (found > 0) {
            log.info("{} queued job(s) in the store that no replica announced: taking them over", found);
            wake.run();
        }
    }

    /** Whether jobs of other replicas may soon be this one's to take (the dispatcher then wakes for them). */
    boolean hearsOthers() {
        return !heard.isEmpty();
    }

    /**
     * Reads the jobs other replicas queued that waited past the steal delay without finishing and puts those still
     * queued in the ready queue. Called by the dispatcher thread between rounds.
     */
    void adoptWaiting() {
        if (heard.isEmpty()) return;
        java.time.Instant before = clock.instant().minus(ReadyQueue.STEAL_DELAY);
        for (var e : heard.entrySet()) {
            if (e.getValue().isAfter(before) || !heard.remove(e.getKey(), e.getValue())) continue;
            String jobId = e.getKey();
            if (ready.contains(jobId) || inFlight.contains(jobId)) continue;
            Optional<JobRecord> job = store.find(jobId);
            if (job.isPresent() && job.get().status() == JobStatus.QUEUED && !ready.contains(jobId)) {
                ready.addAccepted(foreignWaiting.apply(job.get()));
            }
        }
    }

    private void finished(String jobId) {
        heard.remove(jobId);
        ready.remove(jobId); // finished through another replica (cancelled, timed out) while it waited here too
        inFlight.forgetCancel(jobId);
        if (waiters.isWaiting(jobId)) store.find(jobId).filter(j -> j.status().isTerminal()).ifPresent(waiters::completed);
    }

    private void cancel(String jobId) {
        inFlight.requestCancel(jobId); // also when it is being handed to a node here right now: launch looks
        InFlightTable.InFlight f = inFlight.get(jobId);
        if (f != null) f.node().cancel(f.executionId());
    }

    private void resync() {
        own.forgetSent();
        int added = 0;
        for (JobRecord j : store.findByStatus(JobStatus.QUEUED, maxQueued)) {
            if (!ready.contains(j.id()) && !inFlight.contains(j.id())) {
                ready.addAccepted(foreignWaiting.apply(j));
                added++;
            }
        }
        for (String id : waiters.waitedIds()) {
            store.find(id).filter(j -> j.status().isTerminal()).ifPresent(waiters::completed);
        }
        if (added > 0) {
            log.info("resync: {} queued job(s) found in the store", added);
            wake.run();
        }
    }
}
