package dev.kiln.core;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An execution's way to its node and back: a round of placements from the {@link Scheduler}, claimed in one store
 * call, handed to the nodes; their results recorded through the {@link JobLifecycle}. Runs on the orchestrator's
 * dispatcher thread (rounds) and on node threads (results).
 */
final class Dispatcher {
    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    static final int MAX_ROUND = 256;

    /** One placed execution of a round, and how it waited (to put it back if the claim fails). */
    private record Start(ReadyQueue.Waiting waiting, JobType type, ComputeNode node, String executor) {
        JobRecord job() {
            return waiting.job();
        }
    }

    private final Scheduler scheduler;
    private final JobTypeRegistry jobTypes;
    private final ReadyQueue ready;
    private final NodeMembership nodes;
    private final InFlightTable inFlight;
    private final JobLifecycle lifecycle;
    private final ArtifactStore artifacts;
    private final Environments environments;
    private final LiveOutput liveOutput;
    private final OrchestratorEvents events;
    private final OrchestratorSettings settings;
    private final InstantSource clock;
    private final Runnable wake;
    private volatile boolean shuttingDown;

    private final ExecutionListener resultListener = new ExecutionListener() {
        @Override
        public void completed(ExecutionRequest request, ExecutionResult result) {
            onResult(request, result);
        }

        @Override
        public void started(ExecutionRequest request) {
            onStarted(request);
        }

        @Override
        public void output(ExecutionRequest request, String stream, byte[] bytes) {
            liveOutput.append(request.jobId(), request.executionId(), stream, bytes);
        }
    };

    Dispatcher(JobTypeRegistry jobTypes, ReadyQueue ready, NodeMembership nodes, InFlightTable inFlight,
               JobLifecycle lifecycle, ArtifactStore artifacts, Environments environments, LiveOutput liveOutput,
               OrchestratorEvents events, OrchestratorSettings settings, InstantSource clock, Runnable wake) {
        this.scheduler = new Scheduler(name -> jobTypes.find(name).orElse(null), this::explicitExecutor, MAX_ROUND);
        this.jobTypes = jobTypes;
        this.ready = ready;
        this.nodes = nodes;
        this.inFlight = inFlight;
        this.lifecycle = lifecycle;
        this.artifacts = artifacts;
        this.environments = environments;
        this.liveOutput = liveOutput;
        this.events = events;
        this.settings = settings;
        this.clock = clock;
        this.wake = wake;
    }

    ExecutionListener resultListener() {
        return resultListener;
    }

    /** From now on an interrupted execution is our own shutdown's doing: it is re-queued, not recorded cancelled. */
    void shuttingDown() {
        shuttingDown = true;
    }

    private String explicitExecutor(JobType type) {
        return type.executor() != null ? type.executor() : settings.defaultExecutor();
    }

    /** When the orchestrator stops waiting for an execution started at {@code start}: its timeout plus the grace. */
    Instant deadline(Instant start, int timeoutSeconds) {
        return start.plusSeconds(timeoutSeconds).plus(settings.executionGrace());
    }

    /**
     * Places ready jobs in rounds while {@code running}: each round takes as many as the nodes have room for, claims
     * them in one store call (one commit), then hands them to the nodes.
     */
    void dispatchReady(java.util.function.BooleanSupplier running) {
        while (running.getAsBoolean()) {
            List<Start> round = placeRound();
            if (round.isEmpty()) return; // nothing ready, or every slot busy: a submission or freed slot wakes us
            startRound(round);
        }
    }

    private List<Start> placeRound() {
        Scheduler.Round round = scheduler.round(ready.heads(MAX_ROUND, clock.instant()), nodes.all(),
                nodes::isDraining);
        round.reasons().forEach(ready::setReason);
        for (ReadyQueue.Waiting w : round.typeGone()) {
            if (ready.remove(w.job().id())) {
                lifecycle.fail(w.job(), ErrorType.SANDBOX_ERROR, "job type '" + w.job().spec().jobType()
                        + "' no longer exists", JobError.PHASE_QUEUE);
            }
        }
        List<Start> starts = new ArrayList<>(round.placed().size());
        for (Scheduler.Placed p : round.placed()) {
            // Gone meanwhile: cancelled, timed out in the queue, or finished through another replica.
            if (ready.remove(p.waiting().job().id())) {
                starts.add(new Start(p.waiting(), p.type(), p.node(), p.executor()));
            }
        }
        return starts;
    }

    private void startRound(List<Start> round) {
        List<Start> claimable = new ArrayList<>(round.size());
        List<String> digests = new ArrayList<>(round.size());
        for (Start st : round) {
            if (st.job().attempt() >= st.job().maxAttempts()) { // e.g. re-queued by a shutdown on its last attempt
                lifecycle.fail(st.job(), ErrorType.SANDBOX_ERROR, "interrupted on attempt " + st.job().attempt()
                        + " of " + st.job().maxAttempts() + " and no attempts are left", JobError.PHASE_EXECUTION);
                continue;
            }
            try {
                digests.add(environments.digestToRun(st.type())); // pinned: a later rebuild does not move it
                claimable.add(st);
            } catch (KilnException e) {
                lifecycle.fail(st.job(), ErrorType.SANDBOX_ERROR, e.getMessage(), JobError.PHASE_QUEUE);
            }
        }
        if (claimable.isEmpty()) return;
        Instant now = clock.instant();
        List<JobStore.Claim> claims = new ArrayList<>(claimable.size());
        for (Start st : claimable) {
            int timeout = JobSpecValidator.effectiveTimeout(st.job().spec().timeoutSeconds(), st.type());
            claims.add(new JobStore.Claim(st.job().id(), st.job().version(), st.job().attempt() + 1, st.node().id(),
                    now, deadline(now, timeout), Housekeeping.leaseFrom(now)));
        }
        List<Boolean> applied;
        try {
            applied = lifecycle.claim(claims);
        } catch (RuntimeException e) {
            // Nothing was claimed: the jobs wait again where they were (the dispatcher backs off while the store fails).
            for (Start st : claimable) ready.addAccepted(st.waiting());
            throw e;
        }
        for (int i = 0; i < claimable.size(); i++) {
            // Else cancelled, or claimed by another replica, meanwhile.
            if (applied.get(i)) launch(claimable.get(i), digests.get(i), now);
        }
    }

    private void launch(Start st, String layerDigest, Instant startedAt) {
        JobRecord queued = st.job();
        ComputeNode node = st.node();
        int attempt = queued.attempt() + 1;
        JobRecord job = queued.with(JobStatus.RUNNING, queued.version() + 1, attempt, node.id(), startedAt, null,
                null);
        int timeout = JobSpecValidator.effectiveTimeout(job.spec().timeoutSeconds(), st.type());
        InFlightTable.InFlight f = new InFlightTable.InFlight(job, node, layerDigest, st.waiting().readyAt(),
                deadline(startedAt, timeout));
        liveOutput.started(job.id(), job.currentExecutionId());
        inFlight.put(f);
        events.started(job, Duration.between(job.createdAt(), startedAt).toMillis());
        // A cancel that came while the job was being handed over: whichever side sees the other's mark acts on it.
        if (inFlight.takeCancel(job.id())) {
            complete(f, ExecutionResult.failure(JobStatus.CANCELLED,
                    new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_QUEUE)), null);
            return;
        }
        ExecutionRequest request = new ExecutionRequest(job.currentExecutionId(), job.id(), attempt, job.spec(),
                st.type(), timeout, settings.outputLimits(), layerDigest);
        try {
            node.execute(request, st.executor(), resultListener);
        } catch (IllegalStateException e) {
            // The node went away (or filled up) between placement and push: nothing ran, so it runs elsewhere.
            log.info("node {} could not take execution {} ({}); re-queued", node.id(), request.executionId(),
                    e.getMessage());
            takeBack(f, "node " + node.id() + " could not take it: " + e.getMessage());
        } catch (RuntimeException e) {
            log.error("node {} refused execution {}", node.id(), request.executionId(), e);
            complete(f, ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                    "compute node refused the execution: " + e.getMessage(), JobError.PHASE_SETUP)), null);
        }
    }

    /** An execution the store shows running on {@code node}, which the node says it still runs: ours again. */
    void adopt(ComputeNode node, JobRecord job, boolean cancelRequested) {
        JobType type = settingsType(job);
        ExecutionRequest request = new ExecutionRequest(job.currentExecutionId(), job.id(), job.attempt(),
                job.spec(), type, JobSpecValidator.effectiveTimeout(job.spec().timeoutSeconds(), type),
                settings.outputLimits(), null);
        liveOutput.started(job.id(), job.currentExecutionId());
        Instant now = clock.instant();
        inFlight.put(new InFlightTable.InFlight(job, node, null, now, deadline(now, request.timeoutSeconds())));
        node.adopt(request, resultListener);
        log.info("node {} reclaimed execution {}", node.id(), request.executionId());
        if (cancelRequested || inFlight.cancelRequested(job.id())) node.cancel(request.executionId());
    }

    private JobType settingsType(JobRecord job) {
        String name = job.spec().jobType();
        return jobTypes.find(name).orElseGet(() -> JobType.defaults(name));
    }

    /** The execution is gone from its node (lost, removed, refused): the job runs again while attempts are left. */
    void takeBack(InFlightTable.InFlight f, String reason) {
        if (!inFlight.remove(f)) return; // its result came first
        try {
            lifecycle.requeue(f.job(), reason, true, f.node().id());
        } finally {
            wake.run();
        }
    }

    private void discardArtifacts(String executionId) {
        try {
            artifacts.deleteAll(executionId);
        } catch (java.io.IOException | RuntimeException e) {
            log.warn("could not remove the artifacts of execution {}, whose result lost: {}", executionId, e.toString());
        }
    }

    private void onStarted(ExecutionRequest request) {
        InFlightTable.InFlight f = inFlight.get(request.jobId());
        if (f != null && f.executionId().equals(request.executionId())) {
            events.dispatched(f.job(), Math.max(0, Duration.between(f.readyAt(), clock.instant()).toNanos()));
        }
    }

    private void onResult(ExecutionRequest request, ExecutionResult result) {
        InFlightTable.InFlight f = inFlight.get(request.jobId());
        if (f == null || !f.executionId().equals(request.executionId())) {
            log.warn("dropping result of stale execution {}", request.executionId());
            return;
        }
        // A remote node runs on a layer of its own choosing and says which.
        complete(f, result, request.layerDigest());
    }

    /** {@code layerDigest}: the layer the execution ran on, if the node says (else the one pinned at launch). */
    private void complete(InFlightTable.InFlight f, ExecutionResult result, String layerDigest) {
        JobRecord job = f.job();
        if (shuttingDown && result.status() == JobStatus.CANCELLED && !inFlight.cancelRequested(job.id())) {
            // Interrupted by our own shutdown, not by the user: the job runs again after the restart.
            try {
                lifecycle.requeueForShutdown(job);
            } finally {
                inFlight.remove(f);
            }
            return;
        }
        // Under the execution, not the job: a result that then loses the compare-and-set (another attempt or replica
        // finished the job first) leaves the winner's files alone, and its own are removed.
        List<Artifact> stored = List.of();
        ExecutionResult outcome = result;
        String executionId = f.executionId();
        try {
            if (!result.artifacts().isEmpty()) stored = artifacts.importArtifacts(executionId, result.artifacts());
        } catch (java.io.IOException | RuntimeException e) {
            log.error("could not store artifacts of job {}", job.id(), e);
            outcome = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                    "could not store artifacts: " + e.getMessage(), JobError.PHASE_OUTPUT));
        }
        // Out of the in-flight table before the terminal state is announced: whoever is woken by it (a cancel, an
        // /execute) sees the job gone from the running count. A late duplicate result is dropped either way.
        inFlight.remove(f);
        try {
            boolean hasArtifacts = !stored.isEmpty();
            lifecycle.finish(job, outcome.status(), JobResult.of(outcome, stored,
                    layerDigest != null ? layerDigest : f.layerDigest()), () -> {
                if (hasArtifacts) discardArtifacts(executionId);
            });
        } finally {
            inFlight.forgetCancel(job.id());
            wake.run();
        }
    }
}
