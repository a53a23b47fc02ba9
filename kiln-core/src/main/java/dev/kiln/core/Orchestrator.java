package dev.kiln.core;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The orchestrator's shell: wires the parts, runs the dispatcher thread, and is the API the server calls. It accepts
 * jobs ({@link JobIntake}), places them ({@link Scheduler} through the {@link Dispatcher}), commits every state
 * change in one place ({@link JobLifecycle}), keeps time-driven work apart ({@link Housekeeping}) and follows the
 * other replicas sharing its store ({@link ReplicaSync}). The store is the truth: the ready queue, the in-flight
 * table and the node list are caches of it, rebuilt by {@link #start()} and kept in step by the store's signals.
 */
public final class Orchestrator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Orchestrator.class);

    private final JobStore store;
    private final JobTypeRegistry jobTypes;
    private final InstantSource clock;
    private final OwnSignals signals;
    private final boolean ownSignals;
    private final ReadyQueue ready;
    private final CompletionWaiters waiters = new CompletionWaiters();
    private final InFlightTable inFlight = new InFlightTable();
    private final NodeMembership nodes = new NodeMembership();
    private final LiveOutput liveOutput;
    private final JobLifecycle lifecycle;
    private final JobIntake intake;
    private final Dispatcher dispatcher;
    private final Housekeeping housekeeping;
    private final NodeReconciler reconciler;
    private final Retention retention;
    private final Semaphore wakeUp = new Semaphore(0);
    private final boolean followsReplicas;
    private final Leadership leadership;
    private ReplicaSync replicaSync;
    private volatile boolean running;
    private Thread dispatcherThread;
    // Rounds in a row the store refused; the dispatcher backs off while it does.
    private int storeDown;

    /** An orchestrator alone on its store: signals stay in this process and it is always the leader. */
    public Orchestrator(JobStore store, ArtifactStore artifacts, JobTypeRegistry jobTypes, Environments environments,
                        List<ComputeNode> nodes, InstantSource clock, OrchestratorEvents events,
                        OrchestratorSettings settings) {
        this(store, artifacts, jobTypes, environments, nodes, clock, events, settings, null, Leadership.SOLE);
    }

    /**
     * @param signals    the store's signals shared with the other replicas (null: this process's own)
     * @param leadership whether this replica does the housekeeping now
     */
    public Orchestrator(JobStore store, ArtifactStore artifacts, JobTypeRegistry jobTypes, Environments environments,
                        List<ComputeNode> nodes, InstantSource clock, OrchestratorEvents events,
                        OrchestratorSettings settings, StoreSignals signals, Leadership leadership) {
        this.store = store;
        this.jobTypes = jobTypes;
        this.clock = clock;
        this.ownSignals = signals == null;
        this.signals = new OwnSignals(signals != null ? signals : StoreSignals.inProcess());
        // Signals kept within this process carry only its own changes: nothing to follow.
        this.followsReplicas = signals != null && !(signals instanceof InProcessSignals);
        this.leadership = leadership;
        this.ready = new ReadyQueue(settings.maxQueueSize());
        this.liveOutput = new LiveOutput(settings.outputLimits().maxStdoutBytes()
                + settings.outputLimits().maxStderrBytes());
        this.lifecycle = new JobLifecycle(store, clock, events, waiters, liveOutput, this.signals, new PendingWrites(),
                inFlight, this::signal);
        this.intake = new JobIntake(store, jobTypes, environments, clock, events, settings, ready, this.signals,
                this::signal);
        this.dispatcher = new Dispatcher(jobTypes, ready, this.nodes, inFlight, lifecycle, artifacts, environments,
                liveOutput, events, settings, clock, this::signal);
        this.reconciler = new NodeReconciler(store, inFlight, dispatcher);
        this.retention = new Retention(store, artifacts);
        this.housekeeping = new Housekeeping(store, clock, inFlight, ready, lifecycle, leadership, settings,
                retention, dispatcher::takeBack);
        lifecycle.onRequeued((queued, lostOn) -> {
            ready.addAccepted(intake.waiting(queued, clock.instant(), lostOn, false));
            signal();
        });
        nodes.forEach(this::addNode);
    }

    /** Recovers from the store, follows the other replicas, then starts dispatching. */
    public synchronized void start() {
        if (running) return;
        recover();
        if (followsReplicas) {
            replicaSync = new ReplicaSync(store, signals, ready, inFlight, waiters, j -> intake.found(j, true),
                    Integer.MAX_VALUE, this::signal, clock);
            signals.subscribe(replicaSync);
        }
        running = true;
        dispatcherThread = Thread.ofPlatform().name("kiln-dispatcher").daemon().start(this::dispatchLoop);
        signal();
    }

    /**
     * Executions the store shows running on this process's own nodes died with its previous run: they run again.
     * Those on remote nodes are left to their nodes: adopted when a node reconnects and says it still runs them,
     * else taken back once their lease lapses. Every queued job joins the ready queue.
     */
    private void recover() {
        int remote = 0;
        for (JobRecord r : store.findByStatus(JobStatus.RUNNING, Integer.MAX_VALUE)) {
            if (r.nodeId() != null && nodes.isInProcess(r.nodeId())) {
                lifecycle.requeue(r, "interrupted by an orchestrator restart", false, null);
            } else {
                remote++;
            }
        }
        List<JobRecord> queued = store.findByStatus(JobStatus.QUEUED, Integer.MAX_VALUE);
        queued.forEach(j -> ready.addAccepted(intake.found(j, false)));
        if (!queued.isEmpty()) log.info("recovered {} queued job(s) from the store", queued.size());
        if (remote > 0) log.info("{} job(s) run on remote nodes; their nodes reclaim them when they connect", remote);
    }

    // ---- jobs --------------------------------------------------------------------------------------------------

    /** Validates and durably stores a job; returns once it is stored (2xx means it will run). */
    public JobRecord submit(JobSpec spec, String idempotencyKey) {
        return submit(spec, idempotencyKey, Submitter.LOCAL);
    }

    /** As {@link #submit(JobSpec, String)}, into the submitter's namespace. */
    public JobRecord submit(JobSpec spec, String idempotencyKey, Submitter by) {
        return intake.submit(spec, idempotencyKey, JobIds.next(clock), by);
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
        return execute(spec, idempotencyKey, Submitter.LOCAL, timeout);
    }

    /** As {@link #execute(JobSpec, String, Duration)}, into the submitter's namespace. */
    public JobRecord execute(JobSpec spec, String idempotencyKey, Submitter by, Duration timeout)
            throws InterruptedException {
        String id = JobIds.next(clock);
        Object handle = waiters.register(id); // before the job can possibly finish
        try {
            JobRecord job = intake.submit(spec, idempotencyKey, id, by);
            if (!job.id().equals(id)) return job.status().isTerminal() ? job : await(job.id(), timeout);
            JobRecord done = waiters.await(handle, timeout);
            return done != null ? done : require(job.id());
        } finally {
            waiters.release(id, handle);
        }
    }

    public Optional<JobRecord> find(String id) {
        return store.find(id);
    }

    public JobRecord require(String id) {
        return store.find(id).orElseThrow(() -> KilnException.notFound("job " + id));
    }

    /** The job once terminal, or as it is after {@code timeout}; woken by whichever replica finishes it. */
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

    /** {@code namespace} null: every namespace's (an admin's view). */
    public JobPage list(String namespace, JobStatus status, int limit, String cursor) {
        return store.list(namespace, status, limit, cursor);
    }

    /**
     * Cancels a queued or running job, wherever it runs; waits briefly for a running one to stop. The cancel is
     * kept in the store with the execution, so the replica holding it (or adopting it later) acts on it.
     */
    public JobRecord cancel(String id) throws InterruptedException {
        JobRecord job = require(id);
        if (job.status().isTerminal()) {
            throw KilnException.conflict(null, "job " + id + " already finished with status " + job.status().wireName());
        }
        if (job.status() == JobStatus.QUEUED) {
            ready.remove(id);
            JobError error = new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_QUEUE);
            if (lifecycle.finish(job, JobStatus.CANCELLED, JobResult.errorOnly(error))) return require(id);
        }
        // Running, or being handed to a node right now: whichever side sees the other's mark acts on it.
        inFlight.requestCancel(id);
        // Kept with the execution, so a replica that adopts it later (this one died meanwhile) cancels it too.
        store.requestCancel(id);
        InFlightTable.InFlight f = inFlight.get(id);
        if (f != null) {
            f.node().cancel(f.executionId());
        } else {
            signals.publish(StoreSignals.Topic.CANCEL, id);
        }
        return await(id, Duration.ofSeconds(5));
    }

    /** Deletes, now, every finished job older than {@code age} with its executions and artifacts ({@code kiln gc}). */
    public int purgeFinishedOlderThan(Duration age) {
        return retention.purge(clock.instant().minus(age));
    }

    public int queueDepth() {
        return ready.size();
    }

    public int runningCount() {
        return inFlight.size();
    }

    /** Why a queued job has not been placed yet (null when it has not been tried or fits). */
    public String queueReason(String jobId) {
        return ready.reason(jobId);
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
        int pending = lifecycle.pendingWrites();
        if (h.ok() && pending > 0) return StoreHealth.failing(pending + " write(s) waiting for the store", null);
        return h;
    }

    /** Store writes waiting for the store to come back. */
    public int pendingWrites() {
        return lifecycle.pendingWrites();
    }

    // ---- nodes -------------------------------------------------------------------------------------------------

    public List<ComputeNode> nodes() {
        return List.copyOf(nodes.all());
    }

    /** Slots of the nodes connected now. */
    public int capacity() {
        return nodes.capacity();
    }

    /** A node joins (or a node with the same id is replaced); placement considers it at once. */
    public void addNode(ComputeNode node) {
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
        ComputeNode node = nodes.require(id);
        if (node.inProcess()) throw KilnException.conflict(null, "node " + id + " runs inside the orchestrator and "
                + "cannot be removed; drain it instead");
        nodes.remove(node);
        nodeLost(id, "node " + id + " was removed");
    }

    /** The node is gone (lease expired, removed): its executions are re-queued, preferring other nodes. */
    public int nodeLost(String nodeId, String reason) {
        return reconciler.nodeLost(nodeId, reason);
    }

    /**
     * A node (re)connected holding {@code holding} executions: see {@link NodeReconciler#reconcile}. Returns the
     * executions the node must cancel.
     */
    public List<String> reconcile(ComputeNode node, Set<String> holding) {
        return reconciler.reconcile(node, holding);
    }

    public ComputeNode requireNode(String id) {
        return nodes.require(id);
    }

    /** The node finishes what it runs and takes no new work until {@link #resumeNode}. */
    public void drainNode(String id) {
        nodes.drain(id);
    }

    public void resumeNode(String id) {
        nodes.resume(id);
        signal();
    }

    /**
     * Applies a drain (or resume) kept in the store, decided on another replica or before a restart: also for a
     * node that has not joined yet, so it gets no work when it does.
     */
    public void setDraining(String id, boolean draining) {
        nodes.setDraining(id, draining);
        if (!draining) signal();
    }

    public boolean isDraining(String nodeId) {
        return nodes.isDraining(nodeId);
    }

    /** {@code ready}, {@code draining} (still running work) or {@code drained}. */
    public String nodeStatus(ComputeNode node) {
        if (!nodes.isDraining(node)) return "ready";
        return runningOn(node.id()) > 0 ? "draining" : "drained";
    }

    /** Whether one of this replica's nodes runs the job now (else another replica's does, or none). */
    public boolean runningHere(String jobId) {
        return inFlight.contains(jobId);
    }

    /** Executions the orchestrator has on the node now. */
    public int runningOn(String nodeId) {
        return inFlight.countOnNode(nodeId);
    }

    // ---- the dispatcher thread ---------------------------------------------------------------------------------

    private void signal() {
        wakeUp.release();
    }

    private void dispatchLoop() {
        while (running) {
            try {
                // The timeout bounds how late a deadline, a lease or another replica's waiting job is seen.
                wakeUp.tryAcquire(storeDown > 0 ? storeBackoffMillis() : wakeUpMillis(), TimeUnit.MILLISECONDS);
                wakeUp.drainPermits();
                // What the store could not take comes first; while it still refuses, nothing new is claimed.
                if (!lifecycle.retryPending()) {
                    storeDown++;
                    continue;
                }
                housekeeping.run();
                if (replicaSync != null) {
                    replicaSync.sweepUnannounced(leadership.isLeader());
                    replicaSync.adoptWaiting();
                }
                dispatcher.dispatchReady(() -> running);
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

    private long storeBackoffMillis() {
        return Math.min(2000, 50L << Math.min(storeDown, 6));
    }

    private long wakeUpMillis() {
        boolean others = ready.hasForeign() || (replicaSync != null && replicaSync.hearsOthers());
        long millis = others ? ReadyQueue.STEAL_DELAY.toMillis() : 1000;
        Instant now = clock.instant();
        Instant next = ready.nextDeadline();
        // A deadline already past waits for the leader (here or on another replica): no reason to spin for it.
        if (next != null && next.isAfter(now)) millis = Math.min(millis, Math.max(1, Duration.between(now, next).toMillis()));
        return millis;
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
        dispatcher.shuttingDown();
        Instant deadline = clock.instant().plus(grace);
        // Remote nodes keep running their work; after the restart they report it and it is reclaimed.
        while (inFlight.anyInProcess() && clock.instant().isBefore(deadline)) {
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        running = false;
        dispatcher.shuttingDown();
        Thread t = dispatcherThread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (ownSignals) signals.close();
    }
}
