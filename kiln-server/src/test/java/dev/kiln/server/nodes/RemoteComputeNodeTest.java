package dev.kiln.server.nodes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.protocol.NodeMessage;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * What the orchestrator keeps for a remote node until the node acknowledges it, over a real long-poll channel
 * (its outbox is what the node's next GET would take); the monotonic clock is the test's.
 */
class RemoteComputeNodeTest {
    private static final int RESEND_MS = 400;
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final AtomicLong seqs = new AtomicLong();
    private final RemoteComputeNode node = new RemoteComputeNode("n1", new NodeMessage.Hello(2, "n1", null,
            Map.of(), 2, Set.of("noop"), "noop", null, List.of()), seqs::incrementAndGet, RESEND_MS, nanos::get);

    private static ExecutionRequest request(String executionId) {
        return new ExecutionRequest(executionId, executionId.substring(0, executionId.lastIndexOf('-')), 1,
                JobSpec.python("pass"), JobType.defaults("default"), 30, OutputLimits.DEFAULTS, null);
    }

    private static List<NodeMessage> sent(PollChannel c) throws InterruptedException {
        return c.take(0);
    }

    private static String describe(NodeMessage m) {
        return switch (m) {
            case NodeMessage.Execute e -> "execute " + e.executionId() + " #" + e.seq();
            case NodeMessage.Cancel c -> "cancel " + c.executionId() + " #" + c.seq();
            default -> m.getClass().getSimpleName();
        };
    }

    private static List<String> describeAll(List<NodeMessage> ms) {
        return ms.stream().map(RemoteComputeNodeTest::describe).toList();
    }

    @Test
    void aCancelThatComesWhileTheExecutionIsBeingHandedOverFollowsItsExecute() throws Exception {
        PollChannel channel = new PollChannel("s1");
        node.attach(channel);

        // The orchestrator cancels the job after claiming it for this node, before node.execute ran.
        node.cancel("job1-1");
        assertThat(sent(channel)).isEmpty();
        node.execute(request("job1-1"), "noop", (r, result) -> { });

        assertThat(describeAll(sent(channel))).containsExactly("execute job1-1 #1", "cancel job1-1 #2");
    }

    @Test
    void aCancelForADisconnectedNodeIsSentAfterItsWelcome() throws Exception {
        PollChannel first = new PollChannel("s1");
        node.attach(first);
        node.execute(request("job1-1"), "noop", (r, result) -> { });
        node.acked(sent(first).getFirst() instanceof NodeMessage.Execute e ? e.seq() : -1);
        node.detach(first);

        node.cancel("job1-1");

        PollChannel second = new PollChannel("s2");
        node.attach(second);
        assertThat(describeAll(sent(second))).containsExactly("cancel job1-1 #2");
    }

    @Test
    void whatIsNotAcknowledgedIsSentAgainLaterAndLaterUntilItIs() throws Exception {
        PollChannel channel = new PollChannel("s1");
        node.attach(channel);
        node.execute(request("job1-1"), "noop", (r, result) -> { });
        assertThat(describeAll(sent(channel))).containsExactly("execute job1-1 #1");

        node.resendOverdue();
        assertThat(sent(channel)).as("not due yet").isEmpty();
        nanos.addAndGet(RESEND_MS * 1_000_000L);
        node.resendOverdue();
        assertThat(describeAll(sent(channel))).containsExactly("execute job1-1 #1");
        nanos.addAndGet(RESEND_MS * 1_000_000L);
        node.resendOverdue();
        assertThat(sent(channel)).as("the second wait is twice as long").isEmpty();
        nanos.addAndGet(RESEND_MS * 1_000_000L);
        node.resendOverdue();
        assertThat(describeAll(sent(channel))).containsExactly("execute job1-1 #1");

        node.acked(1);
        nanos.addAndGet(60_000_000_000L);
        node.resendOverdue();
        assertThat(sent(channel)).isEmpty();
        assertThat(node.pendingCount()).isZero();
    }

    @Test
    void aStartedOrAResultAnswersTheExecuteToo() throws Exception {
        PollChannel channel = new PollChannel("s1");
        node.attach(channel);
        node.execute(request("job1-1"), "noop", (r, result) -> { });
        node.execute(request("job2-1"), "noop", (r, result) -> { });
        node.cancel("job2-1");
        assertThat(node.unacknowledgedExecutes()).containsExactly("job1-1", "job2-1");

        assertThat(node.started("job1-1")).as("reported once").isNotNull();
        assertThat(node.started("job1-1")).isNull();
        assertThat(node.release("job2-1")).isNotNull();

        assertThat(node.unacknowledgedExecutes()).isEmpty();
        assertThat(node.pendingCount()).as("the result made the cancel moot").isZero();
        assertThat(node.recording("job2-1")).isTrue();
    }
}
