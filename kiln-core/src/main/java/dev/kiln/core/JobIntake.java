package dev.kiln.core;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;

/**
 * Takes a job in: validates it, honours its idempotency key, stores it durably, and queues it here (this replica
 * places it first) and for every other replica (a signal). Also makes the ready queue's entries, since how long a
 * job may wait is decided when it is queued.
 */
final class JobIntake {
    private final JobStore store;
    private final JobTypeRegistry jobTypes;
    private final Environments environments;
    private final InstantSource clock;
    private final OrchestratorEvents events;
    private final OrchestratorSettings settings;
    private final JobSpecValidator validator;
    private final ReadyQueue ready;
    private final StoreSignals signals;
    private final Runnable wake;

    JobIntake(JobStore store, JobTypeRegistry jobTypes, Environments environments, InstantSource clock,
              OrchestratorEvents events, OrchestratorSettings settings, ReadyQueue ready, StoreSignals signals,
              Runnable wake) {
        this.store = store;
        this.jobTypes = jobTypes;
        this.environments = environments;
        this.clock = clock;
        this.events = events;
        this.settings = settings;
        this.validator = new JobSpecValidator(settings.requestLimits());
        this.ready = ready;
        this.signals = signals;
        this.wake = wake;
    }

    /** Validates and durably stores a job with the given id; returns once it is stored (2xx means it will run). */
    JobRecord submit(JobSpec spec, String idempotencyKey, String id) {
        return submit(spec, idempotencyKey, id, Submitter.LOCAL);
    }

    /** The job belongs to the submitter's namespace; its idempotency key counts only there. */
    JobRecord submit(JobSpec spec, String idempotencyKey, String id, Submitter by) {
        JobType type = jobTypes.require(spec.jobType());
        validator.validate(spec, type);
        environments.digestToRun(type); // production mode refuses a type with no built layer
        if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > 200)) {
            throw KilnException.invalid("idempotency_key", "must be 1 to 200 characters");
        }
        if (idempotencyKey != null && IdempotencyKeys.hasControlCharacters(idempotencyKey)) {
            throw KilnException.invalid("idempotency_key", "must not contain control characters");
        }
        String storedKey = IdempotencyKeys.scoped(by.namespace(), idempotencyKey);
        String hash = SpecHash.of(spec);
        Instant now = clock.instant();
        Instant keyNotBefore = now.minus(settings.idempotencyRetention());
        if (idempotencyKey != null) {
            // Before the queue-full check: a client retrying a request that was accepted gets its job, not a 503.
            Optional<JobRecord> existing = store.findByIdempotencyKey(storedKey, keyNotBefore);
            if (existing.isPresent()) return sameRequest(existing.get(), hash, idempotencyKey);
        }
        if (!ready.tryReserve()) throw new QueueFullException(settings.maxQueueSize(), 1);
        boolean added = false;
        try {
            JobStore.Inserted inserted = store.insert(new NewJob(id, spec, hash, storedKey,
                    settings.maxAttempts(), now, keyNotBefore, by.namespace(), by.by()));
            if (!inserted.created()) return sameRequest(inserted.job(), hash, idempotencyKey);
            ready.addReserved(waiting(inserted.job(), inserted.job().createdAt(), null, false));
            added = true;
            events.submitted(inserted.job());
            wake.run();
            signals.publish(StoreSignals.Topic.QUEUED, inserted.job().id());
            return inserted.job();
        } finally {
            if (!added) ready.cancelReservation();
        }
    }

    /** The job that holds the key, if it was sent with the same body; else the key is a conflict. */
    private static JobRecord sameRequest(JobRecord existing, String hash, String idempotencyKey) {
        if (!existing.specHash().equals(hash)) {
            throw KilnException.conflict("idempotency_key", "idempotency_key '" + idempotencyKey
                    + "' was already used for job " + existing.id() + " with a different body");
        }
        return existing;
    }

    /** A job entering the ready queue at {@code readyAt}; its queue deadline counts from then. */
    ReadyQueue.Waiting waiting(JobRecord job, Instant readyAt, String avoidNodeId, boolean foreign) {
        List<LabelConstraint> constraints = job.spec().constraints().isEmpty() ? List.of()
                : job.spec().constraints().stream().map(LabelConstraint::parse).toList(); // validated at submission
        return new ReadyQueue.Waiting(job, readyAt, avoidNodeId, constraints, readyAt.plus(queueTimeout(job.spec())),
                foreign);
    }

    /**
     * A job found queued in the store (at start-up, or queued through another replica): a job never started keeps
     * waiting from its submission, so neither a restart nor a hand-over gives it a new queue_timeout.
     */
    ReadyQueue.Waiting found(JobRecord job, boolean foreign) {
        return waiting(job, job.attempt() == 0 ? job.createdAt() : clock.instant(), null, foreign);
    }

    /** The job's own {@code queue_timeout}, else its type's, else the server's. */
    private Duration queueTimeout(JobSpec spec) {
        if (spec.queueTimeoutSeconds() != null) return Duration.ofSeconds(spec.queueTimeoutSeconds());
        Integer ofType = jobTypes.find(spec.jobType()).map(JobType::queueTimeoutSeconds).orElse(null);
        return ofType != null ? Duration.ofSeconds(ofType) : settings.queueTimeout();
    }
}
