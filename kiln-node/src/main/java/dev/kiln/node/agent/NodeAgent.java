package dev.kiln.node.agent;

import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.NodeExecutors;
import dev.kiln.node.WorkRoots;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.GvisorExecutor;
import dev.kiln.sandbox.NoopExecutor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A remote compute node: dials out to an orchestrator of its list (docs/protocol.md), runs what it is sent on a
 * {@link LocalComputeNode}, and keeps every result until the orchestrator acknowledges it, across reconnects and
 * moves to another orchestrator.
 *
 * <p>Three parts: the {@link OrchestratorConnection} (one thread that connects, says hello, handles what the
 * orchestrator sends and reconnects), the {@link Executions} the node holds, and the {@link Outbox} that keeps
 * results until acknowledged. This class makes them and connects them, with the {@link LeaseFence} that stops the
 * executions of a node cut off past its lease, and the {@link NodeLayerCollector} that removes the job-type layers
 * the node no longer needs.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
    private static final Path BWRAP = Path.of("/usr/bin/bwrap");
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    private final NodeAgentConfig config;
    private final String nodeId;
    private final NodeExecutors executors;
    private final LocalComputeNode node;
    private final ScheduledExecutorService timer; // heartbeats, live output batches, resends, the fence
    private final ScheduledExecutorService layerGc; // null without layers: sweeps and removals, off the jobs' path
    private final NodeLayerCollector collector; // null without layers
    private final Outbox outbox = new Outbox();
    private final Executions executions;
    private final OrchestratorConnection connection;
    private final LeaseFence fence = new LeaseFence(System::nanoTime);
    private final AtomicBoolean closed = new AtomicBoolean();
    private List<String> reporting = List.of(); // the last hello's interrupted; connection thread only
    private ScheduledFuture<?> ticks; // guarded by this
    private long tickMillis; // guarded by this

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
                BwrapExecutor.NAME.equals(config.executor()), GvisorExecutor.NAME.equals(config.executor()),
                // The cgroup parent is this node's own: an orchestrator or other nodes on the same host keep theirs.
                NodeExecutors.bwrapConfig(BWRAP, PYTHON, "kiln-" + nodeId, config.uidRange()),
                config.pip(), visible.resolve("layers"), visible.resolve("warm"));
        NodeEnvironments environments;
        NodePools pools;
        ScheduledExecutorService gc = null;
        try {
            String defaultExecutor = config.executor();
            if (defaultExecutor == null) {
                defaultExecutor = this.executors.executors().containsKey(BwrapExecutor.NAME) ? BwrapExecutor.NAME
                        : NoopExecutor.NAME;
                log.info("default executor: {}{}", defaultExecutor, defaultExecutor.equals(NoopExecutor.NAME)
                        ? " (bwrap is unavailable here: jobs are not run for real)" : "");
            }
            pools = new NodePools(this.executors.bwrap(), defaultExecutor, config.slots());
            NodeLayerCollector layerCollector = null;
            if (this.executors.layers() != null) {
                gc = Executors.newSingleThreadScheduledExecutor(
                        Thread.ofPlatform().name("kiln-node-layer-gc").daemon().factory());
                layerCollector = new NodeLayerCollector(this.executors.layers(), pools, config.layerTtl(),
                        Clock.systemUTC(), gc);
            }
            this.collector = layerCollector;
            environments = new NodeEnvironments(this.executors.layers(), layerCollector);
            this.node = new LocalComputeNode(nodeId, this.executors.executors(), defaultExecutor, config.slots(),
                    visible.resolve("work"), environments, config.labels());
        } catch (IOException | RuntimeException e) {
            if (gc != null) gc.shutdownNow();
            if (this.executors.layers() != null) this.executors.layers().close();
            this.executors.executors().values().forEach(dev.kiln.core.Executor::close);
            throw e;
        }
        this.layerGc = gc;
        this.timer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("kiln-node-heartbeat").daemon().factory());
        this.executions = new Executions(nodeId, node, environments, pools, config.jobTypes(), outbox, timer);
        this.node.onSlotFreed(executions::startWaiting);
        this.connection = new OrchestratorConnection(config, nodeId,
                node.capacity() + " slot(s), executors " + node.executors(), timer, handler(), fence);
    }

    /**
     * Starts connecting (and reconnecting) in the background, and sweeping out layers unused for the layer TTL:
     * once now, then hourly (or twice per TTL when shorter).
     */
    public void start() {
        if (collector != null) {
            long every = NodeLayerCollector.sweepInterval(config.layerTtl()).toMillis();
            layerGc.scheduleWithFixedDelay(collector::sweepQuietly, 0, every, TimeUnit.MILLISECONDS);
        }
        connection.start();
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
        return outbox.connected();
    }

    /** Waits until {@link #connected()}; false when the timeout passed first. */
    public boolean awaitConnected(Duration timeout) throws InterruptedException {
        return outbox.awaitConnected(timeout);
    }

    /**
     * Blocks until the agent stopped: closed, or refused for good (see {@link #stopReason()}); then only
     * {@link #close()} is left to do.
     */
    public void awaitStopped() throws InterruptedException {
        connection.awaitStopped();
    }

    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return connection.awaitStopped(timeout);
    }

    /** Why the orchestrator sent this node away for good ({@code code: message}); null while it was not. */
    public String stopReason() {
        return connection.stopReason();
    }

    /** What the connection hands over: the handshake's two halves, and each message to the part it is for. */
    private ConnectionHandler handler() {
        return new ConnectionHandler() {
            @Override
            public Hello hello() {
                reporting = executions.interrupted();
                return new Hello(NodeMessage.PROTOCOL_VERSION, nodeId, config.token(), node.labels(), node.capacity(),
                        node.executors(), node.defaultExecutor(), config.jobTypes(), executions.holding(),
                        config.typeSlots(), reporting);
            }

            @Override
            public void welcomed(Transport t, Welcome welcome) {
                // Executions first: one the orchestrator took back must not get its result out on the new connection.
                executions.disown(welcome.cancel());
                executions.reported(reporting);
                outbox.connected(t, welcome.cancel(), welcome.resendMillis());
                tickEvery(Math.min(LeaseFence.checkEveryMillis(welcome.leaseMillis()),
                        Math.max(10, welcome.resendMillis() / 4)));
            }

            @Override
            public void execute(Execute execute) {
                executions.execute(execute);
            }

            @Override
            public void cancel(String executionId) {
                executions.cancel(executionId);
            }

            @Override
            public long acked(long seq) {
                Outbox.Acked a = outbox.acked(seq);
                if (a == null) return 0;
                executions.acknowledged(a.executionId());
                return a.firstSentNanos();
            }

            @Override
            public Heartbeat heartbeat() {
                return executions.heartbeat();
            }

            @Override
            public void disconnected(Transport t) {
                outbox.disconnected(t);
            }
        };
    }

    /** (Re)schedules {@link #tick()} when the period changes (a welcome with another lease or resend interval). */
    private synchronized void tickEvery(long millis) {
        if (closed.get() || (ticks != null && millis == tickMillis)) return;
        if (ticks != null) ticks.cancel(false);
        tickMillis = millis;
        ticks = timer.scheduleWithFixedDelay(this::tick, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Resends overdue results; and once the node is cut off from every orchestrator past its lease, stops what it
     * runs (it may run elsewhere already) and reconnects, so the next hello reports it as interrupted.
     */
    private void tick() {
        try {
            outbox.resendOverdue();
            if (!fence.cutOff()) return;
            List<String> stopped = executions.fence();
            if (stopped.isEmpty()) return;
            long silentMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - fence.confirmedNanos());
            log.warn("node {} heard no confirmation from any orchestrator for {} ms, past its lease: stopped {} "
                    + "execution(s) so none runs on after being given to another node: {}", nodeId, silentMs,
                    stopped.size(), stopped);
            connection.reconnect("cut off past the lease");
        } catch (RuntimeException e) {
            log.error("node tick failed", e); // the timer would stop running it
        }
    }

    /**
     * Stops reconnecting, closes the connection, then kills what still runs. In that order: a node that leaves
     * reports no {@code cancelled} results (the user cancelled nothing); the orchestrator re-queues its work.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        executions.closing();
        connection.close();
        timer.shutdownNow();
        outbox.disconnect();
        // Before the pools close under it. A removal cut short leaves a .trash- dir the layer store deletes at the
        // next start; a layer still waiting for its leases is then judged by age.
        if (layerGc != null) layerGc.shutdownNow();
        node.close();
        if (executors.layers() != null) executors.layers().close();
        log.info("node {} stopped", nodeId);
    }
}
