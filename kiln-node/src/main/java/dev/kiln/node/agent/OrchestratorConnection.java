package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.node.protocol.NodeMessageCodec;
import dev.kiln.node.protocol.ProtocolException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's connection to an orchestrator, kept up by one thread: it says {@code hello} over a new transport, then
 * hands what the orchestrator sends to the {@link ConnectionHandler}, one message at a time, acknowledging each reliable one
 * once handled, until the connection is lost; then it reconnects with {@link Backoff}, moving along the
 * {@link OrchestratorList} when an orchestrator cannot be reached. It stops when closed or refused for good. While
 * welcomed, a timer sends heartbeats. What arrived is reported to the {@link LeaseFence}.
 */
final class OrchestratorConnection {
    private static final Logger log = LoggerFactory.getLogger(OrchestratorConnection.class);
    private static final String WS_PATH = "/node-api/v1/ws";
    private static final String POLL_BASE = "/node-api/v1";

    private final NodeAgentConfig config;
    private final String nodeId;
    private final String summary;
    private final ScheduledExecutorService timer;
    private final ConnectionHandler handler;
    private final LeaseFence fence;
    private final OrchestratorList orchestrators;
    private final HttpClient http;
    private final BiFunction<URI, Transport.Listener, Transport> transports; // a new transport per connection
    private final BlockingQueue<Event> inbox = new LinkedBlockingQueue<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final CountDownLatch wake = new CountDownLatch(1); // cuts the backoff sleep short on close
    private volatile String stopReason;
    private Thread connectionThread; // guarded by this
    private volatile Transport connecting;
    private volatile Tag current; // the attempt or connection now in use
    private ScheduledFuture<?> heartbeat; // connection thread only

    /** What the connection thread handles; {@code from} tells events of an old connection apart. */
    private sealed interface Event {
    }

    private record Received(Transport.Listener from, NodeMessage message) implements Event {
    }

    private record Lost(Transport.Listener from, String why) implements Event {
    }

    private record Stop() implements Event {
    }

    /**
     * Not connected until {@link #start()}.
     *
     * @param summary what the node offers, for the log line of each welcome ({@code 2 slot(s), executors [..]})
     * @param timer   sends the heartbeats
     */
    OrchestratorConnection(NodeAgentConfig config, String nodeId, String summary, ScheduledExecutorService timer,
                           ConnectionHandler handler, LeaseFence fence) {
        this.config = config;
        this.nodeId = nodeId;
        this.summary = summary;
        this.timer = timer;
        this.handler = handler;
        this.fence = fence;
        this.orchestrators = new OrchestratorList(config.orchestrators());
        // HTTP/1.1: the JDK would otherwise try an h2c upgrade on plain http, which some proxies mishandle.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(WebSocketTransport.CONNECT_TIMEOUT).build();
        NodeMessageCodec codec = new NodeMessageCodec();
        this.transports = switch (config.transport()) {
            // With pings: how a link that died silently is noticed.
            case WS -> (url, l) -> new WebSocketTransport(http, NodeAgentConfig.endpoint(url, WS_PATH, true), codec,
                    true, l);
            case POLL -> (url, l) -> new PollTransport(http, NodeAgentConfig.endpoint(url, POLL_BASE, false),
                    config.pollIntervalMillis(), codec, l);
        };
    }

    /** Starts connecting (and reconnecting) in the background. */
    synchronized void start() {
        if (connectionThread != null) throw new IllegalStateException("already started");
        if (closed.get()) throw new IllegalStateException("closed");
        connectionThread = Thread.ofPlatform().name("kiln-node-connection").daemon().start(this::connectionLoop);
    }

    /** Blocks until the connection thread ended: closed, or refused for good (see {@link #stopReason()}). */
    void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Why the orchestrator sent this node away for good ({@code code: message}); null while it was not. */
    String stopReason() {
        return stopReason;
    }

    private void connectionLoop() {
        Backoff backoff = new Backoff(RandomGenerator.getDefault());
        String lastFailure = null;
        try {
            while (!closed.get()) {
                URI url = orchestrators.current();
                Tag tag = new Tag();
                Transport t = transports.apply(url, tag);
                tag.transport = t;
                connecting = t;
                current = tag;
                if (closed.get()) {
                    t.close();
                    break;
                }
                boolean welcomed = false;
                try {
                    Welcome welcome = t.connect(handler.hello());
                    welcomed = true;
                    orchestrators.welcomed();
                    fence.welcomed(welcome.leaseMillis());
                    welcomed(url, t, welcome);
                    backoff.reset();
                    lastFailure = null;
                    String why = serve(tag);
                    if (why != null) log.warn("connection to {} lost: {}; reconnecting", url, why);
                } catch (RefusedException e) {
                    Refused r = e.refused();
                    if (orchestrators.stopsTheNode(r.code())) {
                        stopReason = r.code() + ": " + r.message();
                        log.error("{} sent node {} away ({}): {}; stopping", url, nodeId, r.code(), r.message());
                        return;
                    }
                    log.warn("{} refused node {} ({}): {}; reconnecting", url, nodeId, r.code(), r.message());
                } catch (IOException | ProtocolException e) {
                    // Every failure is retried forever; the same one is logged once, not every few seconds.
                    String failure = url + ": " + (e.getMessage() != null ? e.getMessage() : e.toString());
                    if (!failure.equals(lastFailure)) {
                        log.warn("cannot connect to {}; retrying{}", failure,
                                orchestrators.size() > 1 ? " with the next orchestrator" : "");
                    } else {
                        log.debug("cannot connect to {}; retrying", failure);
                    }
                    lastFailure = failure;
                } catch (RuntimeException e) {
                    // A bug must not end a node that runs unattended: a fresh connection starts from a clean state.
                    log.error("node agent failed; reconnecting", e);
                } finally {
                    disconnected(t);
                }
                if (!welcomed) orchestrators.connectFailed();
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
     * Handles the connection's messages until it is lost (returns why) or closed (returns null).
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
                case Received r when r.from() == tag -> handle(r.message(), tag.transport);
                default -> {
                    // from an earlier connection
                }
            }
        }
    }

    /** Reliable messages are acknowledged once handled (a repeated one is handled as a no-op and acknowledged). */
    private void handle(NodeMessage message, Transport t) throws RefusedException {
        switch (message) {
            case Execute e -> {
                handler.execute(e);
                t.send(new Ack(e.seq()));
            }
            case Cancel c -> {
                handler.cancel(c.executionId());
                t.send(new Ack(c.seq()));
            }
            case Ack a -> {
                long sentAt = handler.acked(a.seq());
                if (sentAt != 0) {
                    fence.confirmed(sentAt);
                    t.confirmed(sentAt);
                }
            }
            case Refused r -> throw new RefusedException(r);
            case Welcome w -> log.warn("ignoring a second welcome on one connection");
            default -> log.warn("ignoring a node-side message from the orchestrator: {}",
                    message.getClass().getSimpleName().toLowerCase(Locale.ROOT));
        }
    }

    /**
     * Ends the connection in use (an attempt under way: as soon as it is welcomed) and connects again: the node
     * stopped executions on its own, and the next hello tells the orchestrator.
     */
    void reconnect(String why) {
        Tag tag = current;
        if (tag != null) tag.lost(why);
    }

    private void welcomed(URI url, Transport t, Welcome welcome) {
        if (!welcome.nodeId().equals(nodeId)) {
            log.warn("the orchestrator welcomed node '{}', but this is node '{}'", welcome.nodeId(), nodeId);
        }
        handler.welcomed(t, welcome);
        long every = welcome.heartbeatMillis() > 0 ? welcome.heartbeatMillis() : 1_000;
        heartbeat = timer.scheduleAtFixedRate(() -> t.send(handler.heartbeat()), every, every, TimeUnit.MILLISECONDS);
        log.info("node {} connected to {} ({} transport, {}, heartbeat {} ms)", nodeId, url,
                config.transport().name().toLowerCase(Locale.ROOT), summary, every);
    }

    private void disconnected(Transport t) {
        if (heartbeat != null) {
            heartbeat.cancel(false);
            heartbeat = null;
        }
        handler.disconnected(t);
        t.close();
        connecting = null;
    }

    /**
     * Stops reconnecting and ends the connection; returns once the connection thread ended (or 15 s passed).
     * Idempotent.
     */
    void close() {
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
        http.shutdownNow();
        stopped.countDown(); // also when never started
    }

    /** The listener of one connection; events carry it so the connection thread can ignore older connections'. */
    private final class Tag implements Transport.Listener {
        volatile Transport transport;

        @Override
        public void received(NodeMessage message) {
            inbox.add(new Received(this, message));
        }

        @Override
        public void lost(String why) {
            inbox.add(new Lost(this, why));
        }

        @Override
        public void confirmed(long sentNanos) {
            fence.confirmed(sentNanos);
        }
    }
}
