package dev.kiln.core;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts jobs, stores them durably, pushes them to compute nodes the moment one has a free slot, and records
 * exactly one terminal result per job. The store is the truth; the ready queue and the in-flight table are caches of
 * it rebuilt by {@link #start()} (which re-queues executions a crash interrupted on in-process nodes, and gives
 * remote nodes a grace period to reconnect and claim theirs). Nodes join and leave while it runs; executions on a
 * lost node are re-queued, fenced by the store's version so a late result is dropped.
 */
public final class Orchestrator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Orchestrator.class);

    /**
     * An execution handed to a node; {@code job} is the RUNNING record whose version fences the result;
     * {@code readyAt} is when the job became ready (for the dispatch latency); past {@code deadline} (its timeout
     * plus the execution grace) without a result it is taken back.
     */
    private record InFlight(JobRecord job, ComputeNode node, String layerDigest, Instant readyAt, Instant deadline) {
    }

    /** A job the store shows running on a remote node, found at start-up, waiting for that node to claim it. */
    private record Orphan(JobRecord job, Instant deadline) {
    }

    private final JobStore store;
    private final ArtifactStore artifacts;
    private final JobTypeRegistry jobTypes;
    private final Environments environments;
    private final List<ComputeNode> nodes = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final InstantSource clock;
    private final OrchestratorEvents events;
    private final OrchestratorSettings settings;
    private final JobSpecValidator validator;
    private final ReadyQueue ready;
    private final CompletionWaiters waiters = new CompletionWaiters();
    private final PendingWrites pending = new PendingWrites();
    private final Map<String, InFlight> inFlight = new ConcurrentHashMap<>();
    private final Set<String> cancelRequested = ConcurrentHashMap.newKeySet();
    private final Semaphore wakeUp = new Semaphore(0);
    private static final int MAX_ROUND = 256;
    private final Scheduler scheduler;
    private final Set<String> drainingNodes = ConcurrentHashMap.newKeySet();
    private final Map<String, Orphan> orphans = new ConcurrentHashMap<>();
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
    private final LiveOutput liveOutput;
    private volatile boolean running;
    private volatile boolean shuttingDown;
    private Thread dispatcher;

    public Orchestrator(JobStore store, ArtifactStore artifacts, JobTypeRegistry jobTypes, Environments environments,
                        List<ComputeNode> nodes, InstantSource clock, OrchestratorEvents events,
                        OrchestratorSettings settings) {
        this.store = store;
        this.artifacts = artifacts;
        this.jobTypes = jobTypes;
        this.environments = environments;
        this.clock = clock;
        this.events = events;
        this.settings = settings;
        this.validator = new JobSpecValidator(settings.requestLimits());
        this.ready = new ReadyQueue(settings.maxQueueSize());
        this.scheduler = new Scheduler(name -> jobTypes.find(name).orElse(null), this::explicitExecutor, MAX_ROUND);
        this.liveOutput = new LiveOutput(settings.outputLimits().maxStdoutBytes()
                + settings.outputLimits().maxStderrBytes());
        nodes.forEach(this::addNode);
    }

    /** Recovers from the store, then starts dispatching. */
    public synchronized void start() {
        if (running) return;
        recover();
        running = true;
        dispatcher = Thread.ofPlatform().name("kiln-dispatcher").daemon().start(this::dispatchLoop);
        signal();
    }

    private void recover() {
        Instant deadline = clock.instant().plus(settings.nodeReconnectGrace());
        int waiting = 0;
        for (JobRecord r : store.findByStatus(JobStatus.RUNNING, Integer.MAX_VALUE)) {
            if (r.nodeId() != null && !isInProcessNode(r.nodeId())) {
                orphans.put(r.id(), new Orphan(r, deadline)); // its node may still run it: wait for it to say so
                waiting++;
            } else {
                requeueStored(r, "interrupted by an orchestrator restart", false, null);
            }
        }
        List<JobRecord> queued = store.findByStatus(JobStatus.QUEUED, Integer.MAX_VALUE);
        // A job never started keeps waiting from its submission: a restart does not give it a new queue_timeout.
        queued.forEach(j -> ready.addAccepted(waiting(j, j.attempt() == 0 ? j.createdAt() : clock.instant(), null)));
        if (!queued.isEmpty()) log.info("recovered {} queued job(s) from the store", queued.size());
        if (waiting > 0) {
            log.info("{} job(s) were running on remote nodes; waiting up to {} for those nodes to reconnect", waiting,
                    settings.nodeReconnectGrace());
        }
    }

    private boolean isInProcessNode(String nodeId) {
        return nodes.stream().anyMatch(n -> n.id().equals(nodeId) && n.inProcess());
    }

    /**
     * A RUNNING job whose execution is gone: back to the queue while attempts are left (into the ready queue too
     * when {@code enqueue}, preferring another node than {@code lostOn}), else failed. Fenced by the record's
     * version: a change something else made first wins.
     */
    private void requeueStored(JobRecord r, String reason, boolean enqueue, String lostOn) {
        if (cancelRequested.remove(r.id())) {
            finish(r, JobStatus.CANCELLED, JobResult.errorOnly(new JobError(ErrorType.CANCELLED,
                    "cancelled while its node was away", JobError.PHASE_EXECUTION)));
            return;
        }
        if (r.attempt() >= r.maxAttempts()) {
            finish(r, JobStatus.FAILED, JobResult.errorOnly(new JobError(ErrorType.SANDBOX_ERROR, reason
                    + " (attempt " + r.attempt() + " of " + r.maxAttempts() + ") and no attempts are left",
                    JobError.PHASE_EXECUTION)));
            return;
        }
        boolean requeued;
        try {
            requeued = store.requeue(r.id(), r.version(), reason, clock.instant());
        } catch (StoreUnavailableException e) {
            log.warn("could not re-queue job {} ({}); will retry: {}", r.id(), reason, e.getMessage());
            pending.add("re-queue job " + r.id(), () -> requeueStored(r, reason, enqueue, lostOn));
            return;
        }
        if (!requeued) return;
        events.requeued(r, reason);
        if (!enqueue) return;
        JobRecord queued = new JobRecord(r.id(), r.seq(), JobStatus.QUEUED, r.spec(), r.specHash(),
                r.idempotencyKey(), r.attempt(), r.maxAttempts(), r.version() + 1, null, r.createdAt(), null, null,
                null);
        ready.addAccepted(waiting(queued, clock.instant(), lostOn));
        signal();
    }

    /** Validates and durably stores a job; returns once it is stored (2xx means it will run). */
    public JobRecord submit(JobSpec spec, String idempotencyKey) {
        return submit(spec, idempotencyKey, JobIds.next(clock));
    }

    /** Submits and waits up to {@code timeout} for the result ({@code POST /execute}). */
    public JobRecord execute(JobSpec spec, Duration timeout) throws InterruptedException {
        return execute(spec, null, timeout);
    }

    /**
     * Submits and waits up to {@code timeout} for the result ({@code POST /execute}); with an idempotency key already
     * used for the same body, waits for that job instead.
     */
    public JobRecord execute(JobSpec spec, String idempotencyKey, Duration timeout) throws InterruptedException {
        String id = JobIds.next(clock);
        Object handle = waiters.register(id); // before the job can possibly finish
        try {
            JobRecord job = submit(spec, idempotencyKey, id);
            if (!job.id().equals(id)) return job.status().isTerminal() ? job : await(job.id(), timeout);
            JobRecord done = waiters.await(handle, timeout);
            return done != null ? done : require(job.id());
        } finally {
            waiters.release(id, handle);
        }
    }

    private JobRecord submit(JobSpec spec, String idempotencyKey, String id) {
        JobType type = jobTypes.require(spec.jobType());
        validator.validate(spec, type);
        environments.digestToRun(type); // production mode refuses a type with no built layer
        if (idempotencyKey != null && (idempotencyKey.isBlank() || idempotencyKey.length() > 200)) {
            throw KilnException.invalid("idempotency_key", "must be 1 to 200 characters");
        }
        String hash = SpecHash.of(spec);
        Instant now = clock.instant();
        Instant keyNotBefore = now.minus(settings.idempotencyRetention());
        if (idempotencyKey != null) {
            // Before the queue-full check: a client retrying a request that was accepted gets its job, not a 503.
            Optional<JobRecord> existing = store.findByIdempotencyKey(idempotencyKey, keyNotBefore);
            if (existing.isPresent()) return sameRequest(existing.get(), hash, idempotencyKey);
        }
        if (!ready.tryReserve()) throw new QueueFullException(settings.maxQueueSize(), 1);
        boolean added = false;
        try {
            JobStore.Inserted inserted = store.insert(new NewJob(id, spec, hash, idempotencyKey,
                    settings.maxAttempts(), now, keyNotBefore));
            if (!inserted.created()) return sameRequest(inserted.job(), hash, idempotencyKey);
            ready.addReserved(waiting(inserted.job(), inserted.job().createdAt(), null));
            added = true;
            events.submitted(inserted.job());
            signal();
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
    private ReadyQueue.Waiting waiting(JobRecord job, Instant readyAt, String avoidNodeId) {
        List<LabelConstraint> constraints = job.spec().constraints().isEmpty() ? List.of()
                : job.spec().constraints().stream().map(LabelConstraint::parse).toList(); // validated at submission
        return new ReadyQueue.Waiting(job, readyAt, avoidNodeId, constraints, readyAt.plus(queueTimeout(job.spec())));
    }

    /** The job's own {@code queue_timeout}, else its type's, else the server's. */
    private Duration queueTimeout(JobSpec spec) {
        if (spec.queueTimeoutSeconds() != null) return Duration.ofSeconds(spec.queueTimeoutSeconds());
        Integer ofType = jobTypes.find(spec.jobType()).map(JobType::queueTimeoutSeconds).orElse(null);
        return ofType != null ? Duration.ofSeconds(ofType) : settings.queueTimeout();
    }

    public Optional<JobRecord> find(String id) {
        return store.find(id);
    }

    public JobRecord require(String id) {
        return store.find(id).orElseThrow(() -> KilnException.notFound("job " + id));
    }

    /** The job once terminal, or as it is after {@code timeout}. */
    public JobRecord await(String id, Duration timeout) throws InterruptedException {
        Object handle = waiters.register(id);
        try {
            JobRecord job = require(id);
            if (job.status().isTerminal() || timeout.isZero()) return job;
            JobRecord done = waiters.await(handle, timeout);
            return done != null ? done : require(id);
        } finally {
            waiters.release(id, handle);
        }
    }

    /** A job's attempts, first first. */
    public List<ExecutionRecord> executions(String jobId) {
        require(jobId);
        return store.executions(jobId);
    }

    public JobPage list(JobStatus status, int limit, String cursor) {
        return store.list(status, limit, cursor);
    }

    /** Cancels a queued or running job; waits briefly for a running one to stop. */
    public JobRecord cancel(String id) throws InterruptedException {
        JobRecord job = require(id);
        if (job.status().isTerminal()) {
            throw KilnException.conflict(null, "job " + id + " already finished with status " + job.status().wireName());
        }
        if (job.status() == JobStatus.QUEUED && ready.remove(id)) {
            JobError error = new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_QUEUE);
            if (finish(job, JobStatus.CANCELLED, JobResult.errorOnly(error))) return require(id);
        }
        // Running, or being handed to a node right now: whichever side sees the other's mark acts on it.
        cancelRequested.add(id);
        InFlight f = inFlight.get(id);
        if (f != null) f.node().cancel(f.job().currentExecutionId());
        return await(id, Duration.ofSeconds(5));
    }

    public int queueDepth() {
        return ready.size();
    }

    public int runningCount() {
        return inFlight.size();
    }

    /** Slots of the nodes connected now. */
    public int capacity() {
        return nodes.stream().filter(ComputeNode::connected).mapToInt(ComputeNode::capacity).sum();
    }

    public JobTypeRegistry jobTypes() {
        return jobTypes;
    }

    /** What running jobs print, as they print it. */
    public LiveOutput liveOutput() {
        return liveOutput;
    }

    public boolean storeHealthy() {
        return storeHealth().ok();
    }

    /** The store's health, failing too while writes wait for it. */
    public StoreHealth storeHealth() {
        StoreHealth h;
        try {
            h = store.health();
        } catch (RuntimeException e) {
            return StoreHealth.failing(e.getMessage(), clock.instant());
        }
        if (h.ok() && pending.size() > 0) {
            return StoreHealth.failing(pending.size() + " write(s) waiting for the store", null);
        }
        return h;
    }

    private void signal() {
        wakeUp.release();
    }

    private void dispatchLoop() {
        while (running) {
            try {
                // The timeout guards against a lost signal and bounds how late an orphan's grace or a queue
                // deadline ends.
                wakeUp.tryAcquire(storeDown > 0 ? storeBackoffMillis() : wakeUpMillis(), TimeUnit.MILLISECONDS);
                wakeUp.drainPermits();
                // What the store could not take comes first; while it still refuses, nothing new is claimed.
                if (!pending.retry()) {
                    storeDown++;
                    continue;
                }
                expireOrphans();
                expireQueued();
                expireOverdue();
                dispatchReady();
                storeDown = 0;
            } catch (InterruptedException e) {
                return;
            } catch (StoreUnavailableException e) {
                if (storeDown++ == 0) log.warn("dispatch paused: {}", e.getMessage());
            } catch (RuntimeException e) {
                log.error("dispatch failed; retrying", e);
                sleepQuietly();
            }
        }
    }

    // Rounds in a row the store refused; the dispatcher backs off while it does.
    private int storeDown;

    private long storeBackoffMillis() {
        return Math.min(2000, 50L << Math.min(storeDown, 6));
    }

    /** Store writes waiting for the store to come back. */
    public int pendingWrites() {
        return pending.size();
    }

    private long wakeUpMillis() {
        long millis = orphans.isEmpty() ? 1000 : 100;
        Instant next = ready.nextDeadline();
        if (next != null) millis = Math.min(millis, Math.max(1, Duration.between(clock.instant(), next).toMillis()));
        return millis;
    }

    /** Jobs that waited past their queue_timeout fail with the reason they waited. */
    private void expireQueued() {
        Instant now = clock.instant();
        for (ReadyQueue.Expired e : ready.expired(now)) {
            ReadyQueue.Waiting w = e.waiting();
            String why = e.reason() != null ? e.reason() : "no node had a free slot for it";
            finish(w.job(), JobStatus.FAILED, JobResult.errorOnly(new JobError(ErrorType.QUEUE_TIMEOUT,
                    "waited " + seconds(Duration.between(w.readyAt(), now)) + " for a node, past its queue_timeout of "
                            + seconds(Duration.between(w.readyAt(), w.queueDeadline())) + ": " + why,
                    JobError.PHASE_QUEUE)));
        }
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + " s";
    }

    /** One placed execution of a dispatch round, and how it waited (to put it back if the claim fails). */
    private record Start(ReadyQueue.Waiting waiting, JobType type, ComputeNode node, String executor) {
        JobRecord job() {
            return waiting.job();
        }

        Instant readyAt() {
            return waiting.readyAt();
        }
    }

    /**
     * Places ready jobs in rounds: each round takes as many as the nodes have room for (counting locally, so a
     * round never over-commits a node), claims them in one store call (one commit), then hands them to the nodes.
     */
    private void dispatchReady() {
        while (running) {
            List<Start> round = placeRound();
            if (round.isEmpty()) return; // nothing ready, or every slot busy: a submission or freed slot signals us
            startRound(round);
        }
    }

    private List<Start> placeRound() {
        Scheduler.Round round = scheduler.round(ready.heads(MAX_ROUND), nodes, n -> drainingNodes.contains(n.id()));
        round.reasons().forEach(ready::setReason);
        for (ReadyQueue.Waiting w : round.typeGone()) {
            if (ready.remove(w.job().id())) {
                failUnplaceable(w.job(), "job type '" + w.job().spec().jobType() + "' no longer exists");
            }
        }
        List<Start> starts = new ArrayList<>(round.placed().size());
        for (Scheduler.Placed p : round.placed()) {
            // Gone meanwhile: cancelled, or timed out in the queue.
            if (ready.remove(p.waiting().job().id())) {
                starts.add(new Start(p.waiting(), p.type(), p.node(), p.executor()));
            }
        }
        return starts;
    }

    public List<ComputeNode> nodes() {
        return List.copyOf(nodes);
    }

    /** A node joins (or a node with the same id is replaced); placement considers it at once. */
    public void addNode(ComputeNode node) {
        nodes.removeIf(n -> n.id().equals(node.id()));
        nodes.add(node);
        node.onSlotFreed(this::signal);
        signal();
    }

    /**
     * Forgets a remote node (the operator's {@code DELETE /nodes/{id}}); what it ran is re-queued.
     *
     * @throws KilnException 409 for an in-process node
     */
    public void removeNode(String id) {
        ComputeNode node = requireNode(id);
        if (node.inProcess()) throw KilnException.conflict(null, "node " + id + " runs inside the orchestrator and "
                + "cannot be removed; drain it instead");
        nodes.remove(node);
        drainingNodes.remove(id);
        nodeLost(id, "node " + id + " was removed");
    }

    /** The node is gone (lease expired, removed): its executions are re-queued, preferring other nodes. */
    public int nodeLost(String nodeId, String reason) {
        int n = 0;
        for (InFlight f : inFlight.values()) {
            if (f.node().id().equals(nodeId)) {
                requeueInFlight(f, reason);
                n++;
            }
        }
        if (n > 0) log.info("{}: re-queued {} execution(s)", reason, n);
        return n;
    }

    /**
     * A node (re)connected holding {@code holding} executions. Executions this orchestrator has on that node but
     * the node does not hold are re-queued; executions it holds that the store shows running on it after a restart
     * are adopted; the rest are no longer the node's, and the returned list says which it must cancel.
     */
    public List<String> reconcile(ComputeNode node, Set<String> holding) {
        for (InFlight f : inFlight.values()) {
            if (f.node().id().equals(node.id()) && !holding.contains(f.job().currentExecutionId())) {
                requeueInFlight(f, "node " + node.id() + " reconnected without execution "
                        + f.job().currentExecutionId());
            }
        }
        List<String> cancel = new ArrayList<>();
        for (String executionId : holding) {
            int dash = executionId.lastIndexOf('-');
            String jobId = dash > 0 ? executionId.substring(0, dash) : executionId;
            InFlight f = inFlight.get(jobId);
            if (f != null && f.node().id().equals(node.id())
                    && f.job().currentExecutionId().equals(executionId)) {
                continue; // still ours, and the node still runs it
            }
            Orphan o = orphans.get(jobId);
            if (o != null && node.id().equals(o.job().nodeId()) && o.job().currentExecutionId().equals(executionId)
                    && orphans.remove(jobId, o)) {
                adopt(node, o.job());
                continue;
            }
            cancel.add(executionId);
        }
        return cancel;
    }

    private void adopt(ComputeNode node, JobRecord job) {
        JobType type = jobTypes.find(job.spec().jobType()).orElseGet(() -> JobType.defaults(job.spec().jobType()));
        ExecutionRequest request = new ExecutionRequest(job.currentExecutionId(), job.id(), job.attempt(),
                job.spec(), type, JobSpecValidator.effectiveTimeout(job.spec().timeoutSeconds(), type),
                settings.outputLimits(), null);
        liveOutput.started(job.id(), job.currentExecutionId());
        Instant now = clock.instant();
        inFlight.put(job.id(), new InFlight(job, node, null, now, deadline(now, request.timeoutSeconds())));
        node.adopt(request, resultListener);
        log.info("node {} reclaimed execution {} after the orchestrator restarted", node.id(), request.executionId());
        if (cancelRequested.contains(job.id())) node.cancel(request.executionId());
    }

    /** When the orchestrator stops waiting for an execution started at {@code start}: its timeout plus the grace. */
    private Instant deadline(Instant start, int timeoutSeconds) {
        return start.plusSeconds(timeoutSeconds).plus(settings.executionGrace());
    }

    private Instant nextOverdueSweep = Instant.MIN;

    /**
     * Executions past their deadline without a result (a lost message, a node that never answers) are taken back:
     * the node is told to cancel, and the job runs again while attempts are left. Jobs the store shows running past
     * their deadline that this process does not track (a claim whose launch failed) are swept too, less often.
     */
    private void expireOverdue() {
        Instant now = clock.instant();
        for (InFlight f : inFlight.values()) {
            if (now.isAfter(f.deadline())) {
                String id = f.job().currentExecutionId();
                try {
                    f.node().cancel(id);
                } catch (RuntimeException e) {
                    log.debug("cancel of overdue execution {} on node {} failed", id, f.node().id(), e);
                }
                requeueInFlight(f, "node " + f.node().id() + " sent no result for execution " + id
                        + " by its deadline (its timeout plus " + seconds(settings.executionGrace()) + ")");
            }
        }
        if (now.isBefore(nextOverdueSweep)) return;
        nextOverdueSweep = now.plusSeconds(10);
        for (JobRecord r : store.findOverdue(now, 1000)) {
            if (inFlight.containsKey(r.id()) || orphans.containsKey(r.id())) continue;
            requeueStored(r, "no result for execution " + r.currentExecutionId() + " by its deadline", true,
                    r.nodeId());
        }
    }

    /** Orphans whose node did not come back within the grace period run again elsewhere. */
    private void expireOrphans() {
        if (orphans.isEmpty()) return;
        Instant now = clock.instant();
        for (Orphan o : orphans.values()) {
            if (!now.isBefore(o.deadline()) && orphans.remove(o.job().id(), o)) {
                requeueStored(o.job(), "node " + o.job().nodeId() + " did not reconnect after the orchestrator "
                        + "restarted", true, o.job().nodeId());
            }
        }
    }

    private void requeueInFlight(InFlight f, String reason) {
        if (!inFlight.remove(f.job().id(), f)) return; // its result came first
        try {
            requeueStored(f.job(), reason, true, f.node().id());
        } finally {
            signal();
        }
    }

    public ComputeNode requireNode(String id) {
        return nodes.stream().filter(n -> n.id().equals(id)).findFirst()
                .orElseThrow(() -> KilnException.notFound("node " + id));
    }

    /** The node finishes what it runs and takes no new work until {@link #resumeNode}. */
    public void drainNode(String id) {
        drainingNodes.add(requireNode(id).id());
    }

    public void resumeNode(String id) {
        drainingNodes.remove(requireNode(id).id());
        signal();
    }

    /** {@code ready}, {@code draining} (still running work) or {@code drained}. */
    public String nodeStatus(ComputeNode node) {
        if (!drainingNodes.contains(node.id())) return "ready";
        return runningOn(node.id()) > 0 ? "draining" : "drained";
    }

    /** Executions the orchestrator has on the node now. */
    public int runningOn(String nodeId) {
        int n = 0;
        for (InFlight f : inFlight.values()) if (f.node().id().equals(nodeId)) n++;
        return n;
    }

    /** Why a queued job has not been placed yet (null when it has not been tried or fits). */
    public String queueReason(String jobId) {
        return ready.reason(jobId);
    }

    private String explicitExecutor(JobType type) {
        return type.executor() != null ? type.executor() : settings.defaultExecutor();
    }

    private void startRound(List<Start> round) {
        List<Start> claimable = new ArrayList<>(round.size());
        List<String> digests = new ArrayList<>(round.size());
        for (Start st : round) {
            if (st.job().attempt() >= st.job().maxAttempts()) { // e.g. re-queued by a shutdown on its last attempt
                finish(st.job(), JobStatus.FAILED, JobResult.errorOnly(new JobError(ErrorType.SANDBOX_ERROR,
                        "interrupted on attempt " + st.job().attempt() + " of " + st.job().maxAttempts()
                                + " and no attempts are left", JobError.PHASE_EXECUTION)));
                continue;
            }
            try {
                digests.add(environments.digestToRun(st.type())); // pinned: a later rebuild does not move it
                claimable.add(st);
            } catch (KilnException e) {
                finish(st.job(), JobStatus.FAILED, JobResult.errorOnly(new JobError(ErrorType.SANDBOX_ERROR,
                        e.getMessage(), JobError.PHASE_QUEUE)));
            }
        }
        if (claimable.isEmpty()) return;
        Instant now = clock.instant();
        List<JobStore.Claim> claims = new ArrayList<>(claimable.size());
        for (Start st : claimable) {
            int timeout = JobSpecValidator.effectiveTimeout(st.job().spec().timeoutSeconds(), st.type());
            claims.add(new JobStore.Claim(st.job().id(), st.job().version(), st.job().attempt() + 1, st.node().id(),
                    now, deadline(now, timeout)));
        }
        List<Boolean> applied;
        try {
            applied = store.markRunning(claims);
        } catch (RuntimeException e) {
            // Nothing was claimed: the jobs wait again where they were (the dispatcher backs off while the store fails).
            for (Start st : claimable) ready.addAccepted(st.waiting());
            throw e;
        }
        for (int i = 0; i < claimable.size(); i++) {
            if (applied.get(i)) launch(claimable.get(i), digests.get(i), now); // else cancelled or changed meanwhile
        }
    }

    private void launch(Start st, String layerDigest, Instant startedAt) {
        JobRecord queued = st.job();
        ComputeNode node = st.node();
        int attempt = queued.attempt() + 1;
        JobRecord job = new JobRecord(queued.id(), queued.seq(), JobStatus.RUNNING, queued.spec(), queued.specHash(),
                queued.idempotencyKey(), attempt, queued.maxAttempts(), queued.version() + 1, node.id(),
                queued.createdAt(), startedAt, null, null);
        InFlight f = new InFlight(job, node, layerDigest, st.readyAt(),
                deadline(startedAt, JobSpecValidator.effectiveTimeout(job.spec().timeoutSeconds(), st.type())));
        liveOutput.started(job.id(), job.currentExecutionId());
        inFlight.put(job.id(), f);
        events.started(job, Duration.between(job.createdAt(), startedAt).toMillis());
        if (cancelRequested.remove(job.id())) {
            completeInFlight(f, ExecutionResult.failure(JobStatus.CANCELLED,
                    new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_QUEUE)));
            return;
        }
        int timeout = JobSpecValidator.effectiveTimeout(job.spec().timeoutSeconds(), st.type());
        ExecutionRequest request = new ExecutionRequest(job.currentExecutionId(), job.id(), attempt, job.spec(),
                st.type(), timeout, settings.outputLimits(), layerDigest);
        try {
            node.execute(request, st.executor(), resultListener);
        } catch (IllegalStateException e) {
            // The node went away (or filled up) between placement and push: nothing ran, so it runs elsewhere.
            log.info("node {} could not take execution {} ({}); re-queued", node.id(), request.executionId(),
                    e.getMessage());
            requeueInFlight(f, "node " + node.id() + " could not take it: " + e.getMessage());
        } catch (RuntimeException e) {
            log.error("node {} refused execution {}", node.id(), request.executionId(), e);
            completeInFlight(f, ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                    "compute node refused the execution: " + e.getMessage(), JobError.PHASE_SETUP)));
        }
    }

    private void onStarted(ExecutionRequest request) {
        InFlight f = inFlight.get(request.jobId());
        if (f != null && f.job().currentExecutionId().equals(request.executionId())) {
            events.dispatched(f.job(), Math.max(0, Duration.between(f.readyAt(), clock.instant()).toNanos()));
        }
    }

    private void onResult(ExecutionRequest request, ExecutionResult result) {
        InFlight f = inFlight.get(request.jobId());
        if (f == null || !f.job().currentExecutionId().equals(request.executionId())) {
            log.warn("dropping result of stale execution {}", request.executionId());
            return;
        }
        // A remote node runs on a layer of its own choosing and says which.
        completeInFlight(f, result, request.layerDigest() != null ? request.layerDigest() : f.layerDigest());
    }

    private void completeInFlight(InFlight f, ExecutionResult result) {
        completeInFlight(f, result, f.layerDigest());
    }

    /** {@code layerDigest}: the layer the execution ran on, recorded with its result. */
    private void completeInFlight(InFlight f, ExecutionResult result, String layerDigest) {
        JobRecord job = f.job();
        if (shuttingDown && result.status() == JobStatus.CANCELLED && !cancelRequested.contains(job.id())) {
            // Interrupted by our own shutdown, not by the user: the job runs again after the restart.
            try {
                if (store.requeue(job.id(), job.version(), "interrupted by the orchestrator's shutdown",
                        clock.instant())) {
                    events.requeued(job, "interrupted by shutdown");
                }
            } catch (StoreUnavailableException e) {
                log.warn("could not re-queue job {} at shutdown; it is re-run after the restart: {}", job.id(),
                        e.getMessage()); // it stays running in the store, which start-up re-queues
            } finally {
                inFlight.remove(job.id(), f);
            }
            return;
        }
        List<Artifact> stored = List.of();
        ExecutionResult outcome = result;
        try {
            if (!result.artifacts().isEmpty()) stored = artifacts.importArtifacts(job.id(), result.artifacts());
        } catch (java.io.IOException | RuntimeException e) {
            log.error("could not store artifacts of job {}", job.id(), e);
            outcome = ExecutionResult.failure(JobStatus.FAILED, new JobError(ErrorType.SANDBOX_ERROR,
                    "could not store artifacts: " + e.getMessage(), JobError.PHASE_OUTPUT));
        }
        // Out of the in-flight table before the terminal state is announced: whoever is woken by it (a cancel, an
        // /execute) sees the job gone from the running count. A late duplicate result is dropped either way.
        inFlight.remove(job.id(), f);
        try {
            finish(job, outcome.status(), JobResult.of(outcome, stored, layerDigest));
        } finally {
            cancelRequested.remove(job.id());
            signal();
        }
    }

    /**
     * Records the terminal state fenced by the job's version; true when this call won. While the store cannot take
     * it, it is kept and made again until the store is back (false until then).
     */
    private boolean finish(JobRecord job, JobStatus status, JobResult result) {
        try {
            return finishNow(job, status, result);
        } catch (StoreUnavailableException e) {
            log.warn("could not record {} of job {}; will retry: {}", status.wireName(), job.id(), e.getMessage());
            pending.add("record " + status.wireName() + " of job " + job.id(), () -> finishNow(job, status, result));
            signal();
            return false;
        }
    }

    private boolean finishNow(JobRecord job, JobStatus status, JobResult result) {
        Instant now = clock.instant();
        boolean won = store.complete(job.id(), job.version(), status, result, now);
        if (won) {
            liveOutput.finished(job.id());
            JobRecord terminal = new JobRecord(job.id(), job.seq(), status, job.spec(), job.specHash(),
                    job.idempotencyKey(), job.attempt(), job.maxAttempts(), job.version() + 1, job.nodeId(),
                    job.createdAt(), job.startedAt(), now, result);
            events.finished(terminal);
            waiters.completed(terminal);
        } else {
            log.info("result for job {} (version {}) lost the race; it was already changed", job.id(), job.version());
        }
        return won;
    }

    private void failUnplaceable(JobRecord job, String reason) {
        finish(job, JobStatus.FAILED, JobResult.errorOnly(new JobError(ErrorType.SANDBOX_ERROR, reason,
                JobError.PHASE_QUEUE)));
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Starts a graceful stop: no new executions are started, and waits up to {@code grace} for running ones to
     * finish. Executions the nodes interrupt after this are re-queued (they run again after a restart), not recorded
     * as cancelled.
     */
    public void drain(Duration grace) throws InterruptedException {
        running = false;
        shuttingDown = true;
        Instant deadline = clock.instant().plus(grace);
        // Remote nodes keep running their work; after the restart they report it and it is reclaimed.
        while (inFlight.values().stream().anyMatch(f -> f.node().inProcess()) && clock.instant().isBefore(deadline)) {
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        running = false;
        shuttingDown = true;
        Thread t = dispatcher;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
