package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Welcome;

/**
 * What a node does with its {@link OrchestratorConnection}; all but {@link #heartbeat()} run on the connection
 * thread, one at a time.
 */
interface ConnectionHandler {
    /** The {@code hello} of a new connection. */
    Hello hello();

    /** The orchestrator welcomed the node on {@code t}: reconcile, and send on {@code t} from now on. */
    void welcomed(Transport t, Welcome welcome);

    void execute(Execute execute);

    void cancel(String executionId);

    /** Reliable message {@code seq} was acknowledged; returns when it was first sent (0: it was not ours). */
    long acked(long seq);

    /** The heartbeat to send now; called on the timer. */
    Heartbeat heartbeat();

    /** {@code t} is lost or closed: send nothing more on it. */
    void disconnected(Transport t);
}
