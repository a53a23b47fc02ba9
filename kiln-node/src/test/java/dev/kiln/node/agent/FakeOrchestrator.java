package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessageCodec;
import java.net.URI;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The orchestrator's side of docs/protocol.md, reduced to what agent tests need: it answers hello as told, records
 * what the node sends, and sends what the test says. Two real servers implement it, one per transport.
 */
abstract class FakeOrchestrator implements AutoCloseable {
    final NodeMessageCodec codec = new NodeMessageCodec();
    final BlockingQueue<Hello> hellos = new LinkedBlockingQueue<>();
    final BlockingQueue<NodeMessage> received = new LinkedBlockingQueue<>(); // all but heartbeats and acks
    final BlockingQueue<Heartbeat> heartbeats = new LinkedBlockingQueue<>();
    final BlockingQueue<NodeMessage.Ack> acks = new LinkedBlockingQueue<>(); // the node's acks of execute and cancel
    volatile Function<Hello, NodeMessage> onHello = h -> welcome(h, List.of());

    /** Heartbeats every 100 ms, a 3 s lease; results are resent only after a minute (tests of resends say less). */
    static NodeMessage.Welcome welcome(Hello h, List<String> cancel) {
        return welcome(h, cancel, 3000, 60_000);
    }

    static NodeMessage.Welcome welcome(Hello h, List<String> cancel, int leaseMillis, int resendMillis) {
        return new NodeMessage.Welcome(h.nodeId(), UUID.randomUUID().toString(), 100, leaseMillis, cancel,
                resendMillis);
    }

    /** The base URL a node is given. */
    abstract URI url();

    /** To the connected node. */
    abstract void send(NodeMessage message);

    /** Ends the node's connection or session without a word, as a crash or network failure would. */
    abstract void dropConnection();

    void fromNode(NodeMessage m) {
        switch (m) {
            case Heartbeat h -> heartbeats.add(h);
            case NodeMessage.Ack a -> acks.add(a);
            default -> received.add(m);
        }
    }

    NodeMessage.Ack nextAck() throws InterruptedException {
        NodeMessage.Ack a = acks.poll(15, TimeUnit.SECONDS);
        assertThat(a).as("an ack from the node").isNotNull();
        return a;
    }

    Hello nextHello() throws InterruptedException {
        Hello h = hellos.poll(15, TimeUnit.SECONDS);
        assertThat(h).as("a hello from the node").isNotNull();
        return h;
    }

    <T extends NodeMessage> T next(Class<T> type) throws InterruptedException {
        NodeMessage m = received.poll(15, TimeUnit.SECONDS);
        assertThat(m).as("a %s from the node", type.getSimpleName()).isInstanceOf(type);
        return type.cast(m);
    }
}
