package dev.kiln.core;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The periodic work, run by the dispatcher thread between rounds. Every replica: takes back its own executions past
 * their deadline, and renews the leases of the executions its connected nodes run. The leader only (one replica at
 * a time, see {@link Leadership}): fails jobs past their queue timeout, and sweeps the shared store for executions
 * nobody holds any more (a lapsed lease: the node or the replica holding its connection died; or past the deadline).
 */
final class Housekeeping {
    private static final Logger log = LoggerFactory.getLogger(Housekeeping.class);

    /** How long a renewed lease lasts; renewed every {@link #RENEW_EVERY}. */
    static final Duration LEASE = Duration.ofSeconds(10);
    private static final Duration RENEW_EVERY = Duration.ofSeconds(1);
    private static final Duration LEASE_SWEEP_EVERY = Duration.ofSeconds(1);
    private static final Duration OVERDUE_SWEEP_EVERY = Duration.ofSeconds(10);
    private static final int SWEEP_LIMIT = 1000;

    private final JobStore store;
    private final InstantSource clock;
    private final InFlightTable inFlight;
    private final ReadyQueue ready;
    private final JobLifecycle lifecycle;
    private final Leadership leadership;
    private final OrchestratorSettings settings;
    private final Instant startedAt;
    private final Retention retention;
    private final java.util.function.BiConsumer<InFlightTable.InFlight, String> takeBack;
    private Instant nextPurge;
    private Instant nextRenewal = Instant.MIN;
    private Instant nextLeaseSweep = Instant.MIN;
    private Instant nextOverdueSweep = Instant.MIN;
    // Since when lease renewals have worked without a gap: only then are other replicas' lapsed leases believed.
    private Instant renewingSince;

    Housekeeping(JobStore store, InstantSource clock, InFlightTable inFlight, ReadyQueue ready, JobLifecycle lifecycle,
                 Leadership leadership, OrchestratorSettings settings, Retention retention,
                 java.util.function.BiConsumer<InFlightTable.InFlight, String> takeBack) {
        this.retention = retention;
        this.takeBack = takeBack;
        this.store = store;
        this.clock = clock;
        this.inFlight = inFlight;
        this.ready = ready;
        this.lifecycle = lifecycle;
        this.leadership = leadership;
        this.settings = settings;
        this.startedAt = clock.instant();
        this.nextPurge = startedAt.plus(PURGE_FIRST);
    }

    private static final Duration PURGE_FIRST = Duration.ofMinutes(1);
    private static final Duration PURGE_EVERY = Duration.ofHours(1);

    /** The lease a claim starts with. */
    static Instant leaseFrom(Instant now) {
        return now.plus(LEASE);
    }

    void run() {
        Instant now = clock.instant();
        expireOwnOverdue(now);
        renewLeases(now);
        if (!leadership.isLeader()) return;
        expireQueued(now);
        sweepLapsedLeases(now);
        sweepOverdue(now);
        purgeOld(now);
    }

    /** Finished jobs past the retention age go, once an hour (a minute after start first). */
    private void purgeOld(Instant now) {
        if (now.isBefore(nextPurge)) return;
        nextPurge = now.plus(PURGE_EVERY);
        retention.purge(now.minus(settings.retention()));
    }

    /** Executions past their deadline without a result (a lost message, a node that never answers). */
    private void expireOwnOverdue(Instant now) {
        for (InFlightTable.InFlight f : inFlight.all()) {
            if (!now.isAfter(f.deadline())) continue;
            String id = f.executionId();
            try {
                f.node().cancel(id);
            } catch (RuntimeException e) {
                log.debug("cancel of overdue execution {} on node {} failed", id, f.node().id(), e);
            }
            takeBack.accept(f, "node " + f.node().id() + " sent no result for execution " + id
                    + " by its deadline (its timeout plus " + settings.executionGrace().toSeconds() + " s)");
        }
    }

    private void renewLeases(Instant now) {
        if (now.isBefore(nextRenewal)) return;
        nextRenewal = now.plus(RENEW_EVERY);
        try {
            var nodes = inFlight.connectedNodeIds();
            if (!nodes.isEmpty()) store.renewLeases(nodes, now.plus(LEASE));
            if (renewingSince == null) renewingSince = now;
        } catch (StoreUnavailableException e) {
            renewingSince = null;
        }
    }

    /** Jobs that waited past their queue_timeout fail with the reason they waited. */
    private void expireQueued(Instant now) {
        for (ReadyQueue.Expired e : ready.expired(now)) {
            ReadyQueue.Waiting w = e.waiting();
            String why = e.reason() != null ? e.reason() : "no node had a free slot for it";
            lifecycle.fail(w.job(), ErrorType.QUEUE_TIMEOUT, "waited " + seconds(Duration.between(w.readyAt(), now))
                    + " for a node, past its queue_timeout of "
                    + seconds(Duration.between(w.readyAt(), w.queueDeadline())) + ": " + why, JobError.PHASE_QUEUE);
        }
    }

    /**
     * Running executions whose lease lapsed: nobody renews them, so their node or the replica holding it is gone.
     * Not before nodes had {@code node_reconnect_grace} to come back to a restarted orchestrator, and only while this
     * replica's own renewals have worked for a whole lease (after a store outage every replica renews first).
     */
    private void sweepLapsedLeases(Instant now) {
        if (now.isBefore(nextLeaseSweep)) return;
        nextLeaseSweep = now.plus(LEASE_SWEEP_EVERY);
        if (now.isBefore(startedAt.plus(settings.nodeReconnectGrace()))) return;
        if (renewingSince == null || now.isBefore(renewingSince.plus(LEASE))) return;
        for (JobRecord r : store.findLeaseExpired(now, SWEEP_LIMIT)) {
            if (inFlight.contains(r.id())) continue; // ours and alive: renewed on the next round
            lifecycle.requeue(r, "node " + r.nodeId() + " (or the orchestrator it was connected to) was gone for "
                    + "longer than its lease", true, r.nodeId());
        }
    }

    /** Running jobs past their deadline that no replica tracks (a claim whose launch failed). */
    private void sweepOverdue(Instant now) {
        if (now.isBefore(nextOverdueSweep)) return;
        nextOverdueSweep = now.plus(OVERDUE_SWEEP_EVERY);
        for (JobRecord r : store.findOverdue(now, SWEEP_LIMIT)) {
            if (inFlight.contains(r.id())) continue; // ours: taken back above
            lifecycle.requeue(r, "no result for execution " + r.currentExecutionId() + " by its deadline", true,
                    r.nodeId());
        }
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + " s";
    }
}
