package dev.kiln.node.agent;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.NodeExecutors;
import dev.kiln.node.WorkRoots;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.NoopExecutor;
import dev.kiln.sandbox.PipSources;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A remote compute node: dials out to the orchestrator (docs/protocol.md), runs what it is sent on a
 * {@link LocalComputeNode}, and keeps every result until the orchestrator acknowledges it, across reconnects.
 *
 * <p>One connection thread owns the connection: it says hello, then handles what the orchestrator sends, one
 * message at a time, until the connection is lost; then it reconnects with backoff. Results come from execution
 * threads and are sent from there.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
    /** Refusals after which reconnecting cannot help (or another connection of this node took over). */
    private static final Set<String> FINAL_REFUSALS = Set.of("removed", "unauthorized", "protocol_version", "replaced");
    private static final String WS_PATH = "/node-api/v1/ws";
    private static final String POLL_BASE = "/node-api/v1";
    private static final Path BWRAP = Path.of("/usr/bin/bwrap");
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    private final NodeAgentConfig config;
    private final String nodeId;
    private final NodeExecutors executors;
    private final NodeEnvironments environments;
    private final LocalComputeNode node;
    private final HttpClient http;
    private final Transport.Factory transports;
    private final ScheduledExecutorService heartbeats;
    private final BlockingQueue<Event> inbox = new LinkedBlockingQueue<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final CountDownLatch wake = new CountDownLatch(1); // cuts the backoff sleep short on close
    private volatile String stopReason;
    private Thread connectionThread;
    private volatile Transport connecting;
    private ScheduledFuture<?> heartbeat; // connection thread only
    private final OutputBatcher output;
    private final NodePools pools;

    private final Object lock = new Object();
    // Guarded by lock: what the node holds, and the welcomed connection results go to (null: disconnected).
    private final Set<String> running = new HashSet<>();
    private final Map<String, Result> unacked = new LinkedHashMap<>();
    private final Set<String> dropped = new HashSet<>(); // running, but the orchestrator said they are not ours
    private final ArrayDeque<Waiting> waiting = new ArrayDeque<>(); // accepted, waiting for the node's slot
    private Transport session;
    private final Object startLock = new Object(); // one thread at a time starts waiting executions

    /**
     * An accepted execution whose slot the node has not released yet: a result goes out (and the orchestrator may
     * send the next execution) just before the node frees the slot and deletes the work dir; and an execution the
     * orchestrator took back in a welcome holds its slot until it has been killed.
     */
    private record Waiting(ExecutionRequest request, String executor) {
    }

    /** What the connection thread handles; {@code from} tells events of an old connection apart. */
    private sealed interface Event {
    }

    private record Received(Transport.Listener from, NodeMessage message) implements Event {
    }

    private record Lost(Transport.Listener from, String why) implements Event {
    }

    private record Stop() implements Event {
    }

    /** An agent with the executors this machine offers (bwrap when it can; layers and warm dirs in the data dir). */
    public NodeAgent(NodeAgentConfig config) throws IOException {
        this(config, null);
    }

    /**
     * An agent running with the given executors (e.g. {@link NodeExecutors#noopOnly()}); their layer store, if
     * any, is closed with the agent. Not connected until {@link #start()}.
     *
     * @param executors null: create them for this machine
     * @throws IllegalArgumentException when the config's executor is not among them
     */
    public NodeAgent(NodeAgentConfig config, NodeExecutors executors) throws IOException {
        this.config = Objects.requireNonNull(config, "config");
        this.nodeId = NodeIdentity.load(config.dataDir(), config.nodeId()).id();
        Path visible = WorkRoots.sandboxVisibleRoot(config.dataDir());
        this.executors = executors != null ? executors : NodeExecutors.create(
                BwrapExecutor.NAME.equals(config.executor()),
                // The cgroup parent is this node's own: an orchestrator or other nodes on the same host keep theirs.
                NodeExecutors.bwrapConfig(BWRAP, PYTHON, "kiln-" + nodeId),
                PipSources.DEFAULT, visible.resolve("layers"), visible.resolve("warm"));
        try {
            String defaultExecutor = config.executor();
            if (defaultExecutor == null) {
                defaultExecutor = this.executors.executors().containsKey(BwrapExecutor.NAME) ? BwrapExecutor.NAME
                        : NoopExecutor.NAME;
                log.info("default executor: {}{}", defaultExecutor, defaultExecutor.equals(NoopExecutor.NAME)
                        ? " (bwrap is unavailable here: jobs are not run for real)" : "");
            }
            this.environments = new NodeEnvironments(this.executors.layers());
            this.node = new LocalComputeNode(nodeId, this.executors.executors(), defaultExecutor, config.slots(),
                    visible.resolve("work"), environments, config.labels());
            this.node.onSlotFreed(this::startWaiting);
        } catch (IOException | RuntimeException e) {
            if (this.executors.layers() != null) this.executors.layers().close();
            this.executors.executors().values().forEach(dev.kiln.core.Executor::close);
            throw e;
        }
        // HTTP/1.1: the JDK would otherwise try an h2c upgrade on plain http, which some proxies mishandle.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(WebSocketTransport.CONNECT_TIMEOUT).build();
        NodeMessageCodec codec = new NodeMessageCodec();
        this.transports = switch (config.transport()) {
            case WS -> l -> new WebSocketTransport(http, config.endpoint(WS_PATH, true), codec, l);
            case POLL -> l -> new PollTransport(http, config.endpoint(POLL_BASE, false), config.pollIntervalMillis(),
                    codec, l);
        };
        this.heartbeats = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("kiln-node-heartbeat").daemon().factory());
        this.output = new OutputBatcher(heartbeats, this::sendOutput);
        this.pools = new NodePools(this.executors.bwrap(), node.defaultExecutor(), config.slots());
    }

    /** Starts connecting (and reconnecting) in the background. */
    public synchronized void start() {
        if (connectionThread != null) throw new IllegalStateException("already started");
        if (closed.get()) throw new IllegalStateException("closed");
        connectionThread = Thread.ofPlatform().name("kiln-node-connection").daemon().start(this::connectionLoop);
    }

    public String nodeId() {
        return nodeId;
    }

    /** Warm pool counters of this node's sandboxes (empty without bwrap). */
    public List<dev.kiln.sandbox.WarmPoolStats> poolStats() {
        return executors.bwrap() == null ? List.of() : executors.bwrap().poolStats();
    }

    /** Welcomed and not disconnected since. */
    public boolean connected() {
        synchronized (lock) {
            return session != null;
        }
    }

    /** Waits until {@link #connected()}; false when the timeout passed first. */
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (session == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    /**
     * Blocks until the agent stopped: closed, or refused for good (see {@link #stopReason()}); then only
     * {@link #close()} is left to do.
     */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Why the orchestrator sent this node away for good ({@code code: message}); null while it was not. */
    public String stopReason() {
        return stopReason;
    }

    // ---- the connection thread ----

    private void connectionLoop() {
        Backoff backoff = new Backoff(RandomGenerator.getDefault());
        String lastFailure = null;
        try {
            while (!closed.get()) {
                Tag tag = new Tag();
                Transport t = transports.create(tag);
                connecting = t;
                if (closed.get()) {
                    t.close();
                    break;
                }
                try {
                    Welcome welcome = t.connect(hello());
                    welcomed(t, welcome);
                    backoff.reset();
                    lastFailure = null;
                    String why = serve(tag);
                    if (why != null) log.warn("connection to {} lost: {}; reconnecting", config.orchestrator(), why);
                } catch (RefusedException e) {
                    Refused r = e.refused();
                    if (FINAL_REFUSALS.contains(r.code())) {
                        stopReason = r.code() + ": " + r.message();
                        log.error("the orchestrator sent node {} away ({}): {}; stopping", nodeId, r.code(),
                                r.message());
                        return;
                    }
                    log.warn("the orchestrator refused node {} ({}): {}; reconnecting", nodeId, r.code(), r.message());
                } catch (IOException | ProtocolException e) {
                    // Every failure is retried forever; the same one is logged once, not every few seconds.
                    String failure = e.getMessage() != null ? e.getMessage() : e.toString();
                    if (!failure.equals(lastFailure)) {
                        log.warn("cannot connect to {}: {}; retrying", config.orchestrator(), failure);
                    } else {
                        log.debug("cannot connect to {}: {}; retrying", config.orchestrator(), failure);
                    }
                    lastFailure = failure;
                } catch (RuntimeException e) {
                    // A bug must not end a node that runs unattended: a fresh connection starts from a clean state.
                    log.error("node agent failed; reconnecting", e);
                } finally {
                    disconnected(t);
                }
                if (closed.get()) break;
                if (wake.await(backoff.next().toMillis(), TimeUnit.MILLISECONDS)) break;
            }
        } catch (InterruptedException e) {
            // closing
        } finally {
            stopped.countDown();
        }
    }

    /**
     * Handles the connection's messages until it is lost (returns why) or the agent closes (returns null).
     *
     * @throws RefusedException when the orchestrator ends the connection with {@code refused}
     */
    private String serve(Tag tag) throws InterruptedException, RefusedException {
        while (true) {
            Event event = inbox.take();
            switch (event) {
                case Stop s -> {
                    return null;
                }
                case Lost l when l.from() == tag -> {
                    return l.why();
                }
                case Received r when r.from() == tag -> handle(r.message());
                default -> {
                    // from an earlier connection
                }
            }
        }
    }

    private void handle(NodeMessage message) throws RefusedException {
        switch (message) {
            case Execute e -> execute(e);
            case Cancel c -> cancel(c.executionId());
            case Ack a -> {
                synchronized (lock) {
                    unacked.remove(a.executionId());
                }
            }
            case Refused r -> throw new RefusedException(r);
            case Welcome w -> log.warn("ignoring a second welcome on one connection");
            case Hello h -> log.warn("ignoring a node-side message from the orchestrator: hello");
            case Heartbeat h -> log.warn("ignoring a node-side message from the orchestrator: heartbeat");
            case Started s -> log.warn("ignoring a node-side message from the orchestrator: started");
            case Result r -> log.warn("ignoring a node-side message from the orchestrator: result");
            case NodeMessage.Output o -> log.warn("ignoring a node-side message from the orchestrator: output");
        }
    }

    private Hello hello() {
        Set<String> holding = new LinkedHashSet<>();
        synchronized (lock) {
            running.stream().filter(id -> !dropped.contains(id)).forEach(holding::add);
            holding.addAll(unacked.keySet());
        }
        return new Hello(NodeMessage.PROTOCOL_VERSION, nodeId, config.token(), node.labels(), node.capacity(),
                node.executors(), node.defaultExecutor(), config.jobTypes(), List.copyOf(holding), config.typeSlots());
    }

    private void welcomed(Transport t, Welcome welcome) {
        if (!welcome.nodeId().equals(nodeId)) {
            log.warn("the orchestrator welcomed node '{}', but this is node '{}'", welcome.nodeId(), nodeId);
        }
        List<String> cancel = welcome.cancel();
        List<String> kill = new ArrayList<>();
        for (String id : cancel) {
            if (!removeWaiting(id)) kill.add(id); // one that never started needs no killing
        }
        synchronized (lock) {
            for (String id : kill) {
                if (running.contains(id)) dropped.add(id);
            }
            cancel.forEach(unacked::remove);
            session = t;
            lock.notifyAll();
            // Results that finished while disconnected, or were sent but never acknowledged.
            unacked.values().forEach(t::send);
        }
        kill.forEach(node::cancel);
        if (!cancel.isEmpty()) {
            log.info("dropped {} execution(s) that are no longer this node's: {}", cancel.size(), cancel);
        }
        long every = welcome.heartbeatMillis() > 0 ? welcome.heartbeatMillis() : 1_000;
        heartbeat = heartbeats.scheduleAtFixedRate(() -> beat(t), every, every, TimeUnit.MILLISECONDS);
        log.info("node {} connected to {} ({} transport, {} slot(s), executors {}, heartbeat {} ms)", nodeId,
                config.orchestrator(), config.transport().name().toLowerCase(java.util.Locale.ROOT), node.capacity(),
                node.executors(), every);
    }

    /** {@code free} counts as the credits do: a slot is free once its result is out. */
    private void beat(Transport t) {
        int busy;
        synchronized (lock) {
            busy = creditsInUseLocked();
        }
        t.send(new Heartbeat(Math.max(0, node.capacity() - busy), busy));
    }

    /**
     * Executions the orchestrator counts against this node's credits: not those it took back in a welcome, which
     * may still be dying here (their slots are waited for, see {@link Waiting}).
     */
    private int creditsInUseLocked() {
        return running.size() - dropped.size();
    }

    private void disconnected(Transport t) {
        if (heartbeat != null) {
            heartbeat.cancel(false);
            heartbeat = null;
        }
        synchronized (lock) {
            if (session == t) session = null;
        }
        t.close();
        connecting = null;
    }

    /** Starts the execution, or answers with a failed result when this node cannot take it. */
    private void execute(Execute e) {
        ExecutionRequest request = e.request();
        String id = request.executionId();
        synchronized (lock) {
            if (running.contains(id)) {
                log.warn("execution {} already runs here; ignoring the repeated execute", id);
                return;
            }
            Result held = unacked.get(id);
            if (held != null) { // it ran here already: the orchestrator has not seen the result yet
                if (session != null) session.send(held);
                return;
            }
        }
        String type = request.jobType().name();
        if (config.jobTypes() != null && !config.jobTypes().contains(type)) {
            refuse(id, "node " + nodeId + " does not take job type '" + type + "' (only " + config.jobTypes() + ")");
            return;
        }
        if (!node.executors().contains(e.executor())) {
            refuse(id, "node " + nodeId + " has no executor '" + e.executor() + "' (it has " + node.executors() + ")");
            return;
        }
        ExecutionRequest local;
        try {
            // The orchestrator's layer_digest is its own host's; this node runs on the layer it digests itself.
            local = withLayer(request, environments.digestToRun(request.jobType()));
        } catch (LayerUnavailableException ex) {
            refuse(id, ex.getMessage());
            return;
        }
        synchronized (lock) {
            if (creditsInUseLocked() >= node.capacity()) {
                refuseLocked(id, "node " + nodeId + " has no free slot (all " + node.capacity() + " busy)");
                return;
            }
            running.add(id);
            waiting.add(new Waiting(local, e.executor()));
            // Started goes out before the execution can possibly finish, so the result always follows it.
            if (session != null) session.send(new Started(id));
        }
        startWaiting();
    }

    /** Starts waiting executions while the node has slots; called again whenever the node frees one. */
    private void startWaiting() {
        synchronized (startLock) {
            while (!closed.get()) {
                Waiting w;
                synchronized (lock) {
                    w = waiting.peek();
                }
                if (w == null) return;
                try {
                    node.execute(w.request(), w.executor(), listenerFor(w.executor()));
                } catch (IllegalStateException noSlot) {
                    return; // the slot is released in a moment, and this runs again
                } catch (RuntimeException ex) {
                    String id = w.request().executionId();
                    removeWaiting(id);
                    synchronized (lock) {
                        running.remove(id);
                        dropped.remove(id);
                        refuseLocked(id, "node " + nodeId + " could not start the execution: " + ex.getMessage());
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

    private void cancel(String executionId) {
        if (removeWaiting(executionId)) {
            deliver(new Result(executionId, WireResults.from(ExecutionResult.failure(JobStatus.CANCELLED,
                    new JobError(ErrorType.CANCELLED, "cancelled before it started", JobError.PHASE_SETUP)), null)));
        } else {
            node.cancel(executionId);
        }
    }

    private static ExecutionRequest withLayer(ExecutionRequest r, String digest) {
        return new ExecutionRequest(r.executionId(), r.jobId(), r.attempt(), r.spec(), r.jobType(), r.timeoutSeconds(),
                r.outputLimits(), digest);
    }

    private void refuse(String executionId, String why) {
        synchronized (lock) {
            refuseLocked(executionId, why);
        }
    }

    private void refuseLocked(String executionId, String why) {
        log.warn("execution {} refused: {}", executionId, why);
        deliverLocked(new Result(executionId, WireResults.refused(why)));
    }

    /**
     * Live output goes out as it comes (coalesced); the result after it. Once a type has run here (its layer built),
     * its warm pool is set up for the next ones.
     */
    private dev.kiln.core.ExecutionListener listenerFor(String executor) {
        return new dev.kiln.core.ExecutionListener() {
            @Override
            public void completed(ExecutionRequest request, ExecutionResult result) {
                NodeAgent.this.completed(request, result);
                if (result.error() == null || !JobError.PHASE_SETUP.equals(result.error().phase())) {
                    pools.ran(request.jobType(), request.layerDigest(), executor);
                }
            }

            @Override
            public void output(ExecutionRequest request, String stream, byte[] bytes) {
                output.add(request.executionId(), stream, bytes);
            }
        };
    }

    /** Best effort: live output is not kept across reconnects (the result carries all of it). */
    private void sendOutput(NodeMessage.Output o) {
        synchronized (lock) {
            if (session != null && running.contains(o.executionId()) && !dropped.contains(o.executionId())) {
                session.send(o);
            }
        }
    }

    /** Called on the execution's thread; its artifact files are deleted once this returns, so they are read now. */
    private void completed(ExecutionRequest request, ExecutionResult result) {
        String id = request.executionId();
        output.flush(id);
        Result message = new Result(id, WireResults.from(result, request.layerDigest()));
        synchronized (lock) {
            running.remove(id);
            if (dropped.remove(id)) return; // the orchestrator re-queued it elsewhere
        }
        deliver(message);
    }

    private void deliver(Result result) {
        synchronized (lock) {
            deliverLocked(result);
        }
    }

    private void deliverLocked(Result result) {
        unacked.put(result.executionId(), result);
        if (session != null) session.send(result);
    }

    /**
     * Stops reconnecting, closes the connection, then kills what still runs. In that order: a node that leaves
     * reports no {@code cancelled} results (the user cancelled nothing); the orchestrator re-queues its work.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        inbox.add(new Stop());
        wake.countDown();
        Transport t = connecting;
        if (t != null) t.close(); // cuts a connect() short
        Thread thread;
        synchronized (this) {
            thread = connectionThread;
        }
        if (thread != null) {
            thread.interrupt(); // e.g. out of a POST /session waiting for its timeout
            try {
                thread.join(TimeUnit.SECONDS.toMillis(15));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        heartbeats.shutdownNow();
        synchronized (lock) {
            session = null;
        }
        node.close();
        if (executors.layers() != null) executors.layers().close();
        http.shutdownNow();
        stopped.countDown();
        log.info("node {} stopped", nodeId);
    }

    /** The listener of one connection; events carry it so the connection thread can ignore older connections'. */
    private final class Tag implements Transport.Listener {
        @Override
        public void received(NodeMessage message) {
            inbox.add(new Received(this, message));
        }

        @Override
        public void lost(String why) {
            inbox.add(new Lost(this, why));
        }
    }
}
