package dev.kiln.node.protocol;

import dev.kiln.core.ExecutionRequest;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One message of the node protocol (docs/protocol.md). Every message is a JSON object whose {@code type} names the
 * record below; the same messages travel over a WebSocket or the HTTP long-poll transport. The messages that must
 * arrive ({@link Execute}, {@link Cancel}, {@link Result}) are {@link Reliable}: they carry a {@code seq} the
 * receiver answers with an {@link Ack}, and are sent again until it does.
 */
public sealed interface NodeMessage {
    /** 2: reliable messages carry {@code seq} and are acknowledged by it; hello reports {@code interrupted}. */
    int PROTOCOL_VERSION = 2;

    /**
     * A message kept and resent until the receiver acknowledges its {@code seq} (unique per sender, positive).
     * Receivers suppress duplicates by the execution id, so a resent copy changes nothing.
     */
    sealed interface Reliable extends NodeMessage {
        long seq();

        String executionId();
    }

    // ---- node -> orchestrator ----

    /**
     * The first message of a connection. {@code holding} lists the executions the node still runs or holds an
     * unacknowledged result for, so the orchestrator can reconcile; {@code interrupted} those the node stopped
     * itself because it was cut off from every orchestrator for longer than its lease (they run again elsewhere,
     * not counted as the job's failure); {@code jobTypes} null means "any type"; {@code typeSlots} caps how many
     * executions of a type run at once (types not named: only {@code slots}).
     */
    record Hello(int protocol, String nodeId, String token, Map<String, String> labels, int slots,
                 Set<String> executors, String defaultExecutor, List<String> jobTypes, List<String> holding,
                 Map<String, Integer> typeSlots, List<String> interrupted) implements NodeMessage {
        public Hello {
            labels = Map.copyOf(labels);
            executors = Set.copyOf(executors);
            jobTypes = jobTypes == null ? null : List.copyOf(jobTypes);
            holding = List.copyOf(holding);
            typeSlots = typeSlots == null ? Map.of() : Map.copyOf(typeSlots);
            interrupted = interrupted == null ? List.of() : List.copyOf(interrupted);
        }

        public Hello(int protocol, String nodeId, String token, Map<String, String> labels, int slots,
                     Set<String> executors, String defaultExecutor, List<String> jobTypes, List<String> holding) {
            this(protocol, nodeId, token, labels, slots, executors, defaultExecutor, jobTypes, holding, Map.of(),
                    List.of());
        }
    }

    /** Sent every heartbeat interval; renews the leases of everything the node runs. */
    record Heartbeat(int free, int running) implements NodeMessage {
    }

    /**
     * The node has taken the execution and is starting its sandbox (ends the dispatch latency). Best effort, not
     * acknowledged: it only times the dispatch, and the result implies it.
     */
    record Started(String executionId) implements NodeMessage {
    }

    /**
     * Output an execution printed while running ({@code stream}: stdout or stderr), in order, never past the output
     * caps; sent before its {@code result}. Best effort: the result carries the complete output.
     */
    record Output(String executionId, String stream, byte[] data) implements NodeMessage {
    }

    /** The outcome of an execution; resent until the orchestrator acknowledges its {@code seq}. */
    record Result(long seq, String executionId, WireResult result) implements Reliable {
    }

    // ---- orchestrator -> node ----

    /**
     * The handshake succeeded. {@code cancel}: executions the node reported that are no longer its own;
     * {@code resendMillis}: how long a reliable message waits for its ack before it is sent again (doubling up to
     * {@link #MAX_RESEND_MILLIS}).
     */
    record Welcome(String nodeId, String session, int heartbeatMillis, int leaseMillis, List<String> cancel,
                   int resendMillis) implements NodeMessage {
        public static final int MAX_RESEND_MILLIS = 30_000;

        public Welcome {
            cancel = List.copyOf(cancel);
        }
    }

    /** Run this execution (one credit spent). {@code request.layerDigest()} is a hint; nodes pick their own layer. */
    record Execute(long seq, ExecutionRequest request, String executor) implements Reliable {
        @Override
        public String executionId() {
            return request.executionId();
        }
    }

    /** Kill the execution (or never start it, if its execute has not arrived yet); its result is still sent. */
    record Cancel(long seq, String executionId) implements Reliable {
    }

    /** The reliable message {@code seq} arrived and was taken care of: the sender forgets it. */
    record Ack(long seq) implements NodeMessage {
    }

    /**
     * The orchestrator refuses or ends the connection. {@code code}: {@code unauthorized}, {@code bad_message},
     * {@code protocol_version}, {@code removed} (the operator deleted the node: do not reconnect),
     * {@code replaced} (a newer connection with the same node id took over).
     */
    record Refused(String code, String message) implements NodeMessage {
    }
}
