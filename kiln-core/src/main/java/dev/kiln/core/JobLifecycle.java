package dev.kiln.core;

import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place a job's state changes are committed: a finished execution, an interrupted one (re-queued while
 * attempts are left), a claim. Each is a store command fenced by the job's version, so of two replicas or two
 * causes (a result and a lost node) exactly one wins; the winner announces it (events, waiters, live output, the
 * other replicas). A change the store cannot take now is kept and made again ({@link PendingWrites}).
 */
final class JobLifecycle {
    private static final Logger log = LoggerFactory.getLogger(JobLifecycle.class);

    /** Where a re-queued job goes next: this replica's ready queue, preferring another node than {@code lostOn}. */
    interface Requeued {
        void requeued(JobRecord queued, String lostOn);
    }

    private final JobStore store;
    private final InstantSource clock;
    private final OrchestratorEvents events;
    private final CompletionWaiters waiters;
    private final LiveOutput liveOutput;
    private final StoreSignals signals;
    private final PendingWrites pending;
    private final InFlightTable inFlight;
    private final Runnable wake;
    private Requeued requeued = (job, lostOn) -> {
    };

    JobLifecycle(JobStore store, InstantSource clock, OrchestratorEvents events, CompletionWaiters waiters,
                 LiveOutput liveOutput, StoreSignals signals, PendingWrites pending, InFlightTable inFlight,
                 Runnable wake) {
        this.store = store;
        this.clock = clock;
        this.events = events;
        this.waiters = waiters;
        this.liveOutput = liveOutput;
        this.signals = signals;
        this.pending = pending;
        this.inFlight = inFlight;
        this.wake = wake;
    }

    void onRequeued(Requeued next) {
        this.requeued = next;
    }

    /** QUEUED -> RUNNING for each claim, in one store call; element i says whether claim i won. */
    List<Boolean> claim(List<JobStore.Claim> claims) {
        return store.markRunning(claims);
    }

    /**
     * Records the terminal state fenced by the job's version; true when this call won. While the store cannot take
     * it, it is kept and made again until the store is back (false until then).
     */
    boolean finish(JobRecord job, JobStatus status, JobResult result) {
        return finish(job, status, result, () -> {
        });
    }

    /** As {@link #finish(JobRecord, JobStatus, JobResult)}; {@code onLost} runs if the change lost the race. */
    boolean finish(JobRecord job, JobStatus status, JobResult result, Runnable onLost) {
        try {
            return finishOrElse(job, status, result, onLost);
        } catch (StoreUnavailableException e) {
            log.warn("could not record {} of job {}; will retry: {}", status.wireName(), job.id(), e.getMessage());
            pending.add("record " + status.wireName() + " of job " + job.id(),
                    () -> finishOrElse(job, status, result, onLost));
            wake.run();
            return false;
        }
    }

    private boolean finishOrElse(JobRecord job, JobStatus status, JobResult result, Runnable onLost) {
        boolean won = finishNow(job, status, result);
        if (!won) onLost.run();
        return won;
    }

    private boolean finishNow(JobRecord job, JobStatus status, JobResult result) {
        Instant now = clock.instant();
        boolean won = store.complete(job.id(), job.version(), status, result, now);
        if (won) {
            liveOutput.finished(job.id());
            JobRecord terminal = job.with(status, job.version() + 1, job.attempt(), job.nodeId(), job.startedAt(),
                    now, result);
            events.finished(terminal);
            waiters.completed(terminal);
            signals.publish(StoreSignals.Topic.FINISHED, job.id());
        } else {
            log.info("result for job {} (version {}) lost the race; it was already changed", job.id(), job.version());
        }
        return won;
    }

    void fail(JobRecord job, ErrorType type, String message, String phase) {
        finish(job, JobStatus.FAILED, JobResult.errorOnly(new JobError(type, message, phase)));
    }

    /**
     * A RUNNING job whose execution is gone: back to the queue while attempts are left (into this replica's ready
     * queue too when {@code enqueue}, preferring another node than {@code lostOn}), else failed; cancelled instead
     * when a cancel was asked for. Fenced by the record's version: a change something else made first wins.
     */
    void requeue(JobRecord r, String reason, boolean enqueue, String lostOn) {
        if (inFlight.takeCancel(r.id())) {
            finish(r, JobStatus.CANCELLED, JobResult.errorOnly(new JobError(ErrorType.CANCELLED,
                    "cancelled while its node was away", JobError.PHASE_EXECUTION)));
            return;
        }
        if (r.attempt() >= r.maxAttempts()) {
            fail(r, ErrorType.SANDBOX_ERROR, reason + " (attempt " + r.attempt() + " of " + r.maxAttempts()
                    + ") and no attempts are left", JobError.PHASE_EXECUTION);
            return;
        }
        boolean done;
        try {
            done = store.requeue(r.id(), r.version(), reason, clock.instant());
        } catch (StoreUnavailableException e) {
            log.warn("could not re-queue job {} ({}); will retry: {}", r.id(), reason, e.getMessage());
            pending.add("re-queue job " + r.id(), () -> requeue(r, reason, enqueue, lostOn));
            return;
        }
        if (!done) return;
        events.requeued(r, reason);
        JobRecord queued = r.with(JobStatus.QUEUED, r.version() + 1, r.attempt(), null, null, null, null);
        if (enqueue) requeued.requeued(queued, lostOn);
        signals.publish(StoreSignals.Topic.QUEUED, r.id());
    }

    /** A running job our own shutdown interrupted: queued again as it was, for after the restart. */
    void requeueForShutdown(JobRecord job) {
        try {
            if (store.requeue(job.id(), job.version(), "interrupted by the orchestrator's shutdown", clock.instant())) {
                events.requeued(job, "interrupted by shutdown");
                signals.publish(StoreSignals.Topic.QUEUED, job.id());
            }
        } catch (StoreUnavailableException e) {
            log.warn("could not re-queue job {} at shutdown; it is re-run after the restart: {}", job.id(),
                    e.getMessage()); // it stays running in the store, which start-up or a lease sweep re-queues
        }
    }

    int pendingWrites() {
        return pending.size();
    }

    /** Makes the writes the store refused earlier; false while it still refuses. */
    boolean retryPending() {
        return pending.retry();
    }
}
