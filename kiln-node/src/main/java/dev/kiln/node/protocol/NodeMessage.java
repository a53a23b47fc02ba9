package dev.kiln.node.protocol;

import dev.kiln.core.ExecutionRequest;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One message of the node protocol (docs/protocol.md). Every message is a JSON object whose {@code type} names the
 * record below; the same messages travel over a WebSocket or the HTTP long-poll transport.
 */
public sealed interface NodeMessage {
    int PROTOCOL_VERSION = 1;

    // ---- node -> orchestrator ----

    /**
     * The first message of a connection. {@code holding} lists the executions the node still runs or holds an
     * unacknowledged result for, so the orchestrator can reconcile; {@code jobTypes} null means "any type";
     * {@code typeSlots} caps how many executions of a type run at once (types not named: only {@code slots}).
     */
    record Hello(int protocol, String nodeId, String token, Map<String, String> labels, int slots,
                 Set<String> executors, String defaultExecutor, List<String> jobTypes, List<String> holding,
                 Map<String, Integer> typeSlots) implements NodeMessage {
        public Hello {
            labels = Map.copyOf(labels);
            executors = Set.copyOf(executors);
            jobTypes = jobTypes == null ? null : List.copyOf(jobTypes);
            holding = List.copyOf(holding);
            typeSlots = typeSlots == null ? Map.of() : Map.copyOf(typeSlots);
        }

        public Hello(int protocol, String nodeId, String token, Map<String, String> labels, int slots,
                     Set<String> executors, String defaultExecutor, List<String> jobTypes, List<String> holding) {
            this(protocol, nodeId, token, labels, slots, executors, defaultExecutor, jobTypes, holding, Map.of());
        }
    }

    /** Sent every heartbeat interval; renews the leases of everything the node runs. */
    record Heartbeat(int free, int running) implements NodeMessage {
    }

    /** The node has taken the execution and is starting its sandbox (ends the dispatch latency). */
    record Started(String executionId) implements NodeMessage {
    }

    /**
     * Output an execution printed while running ({@code stream}: stdout or stderr), in order, never past the output
     * caps; sent before its {@code result}. Best effort: the result carries the complete output.
     */
    record Output(String executionId, String stream, byte[] data) implements NodeMessage {
    }

    /** The outcome of an execution; resent after a reconnect until the orchestrator acknowledges it. */
    record Result(String executionId, WireResult result) implements NodeMessage {
    }

    // ---- orchestrator -> node ----

    /** The handshake succeeded. {@code cancel}: executions the node reported that are no longer its own. */
    record Welcome(String nodeId, String session, int heartbeatMillis, int leaseMillis, List<String> cancel)
            implements NodeMessage {
        public Welcome {
            cancel = List.copyOf(cancel);
        }
    }

    /** Run this execution (one credit spent). {@code request.layerDigest()} is a hint; nodes pick their own layer. */
    record Execute(ExecutionRequest request, String executor) implements NodeMessage {
    }

    record Cancel(String executionId) implements NodeMessage {
    }

    /** The result was recorded (or was stale and dropped): the node forgets it. */
    record Ack(String executionId) implements NodeMessage {
    }

    /**
     * The orchestrator refuses or ends the connection. {@code code}: {@code unauthorized}, {@code bad_message},
     * {@code protocol_version}, {@code removed} (the operator deleted the node: do not reconnect),
     * {@code replaced} (a newer connection with the same node id took over).
     */
    record Refused(String code, String message) implements NodeMessage {
    }
}
