package dev.kiln.node.agent;

import static dev.kiln.node.agent.AgentFixture.execute;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.JobStatus;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Messages that must arrive, on a real agent against a fake orchestrator over each transport: a repeated execute
 * runs once, a cancel that overtook its execute still cancels it, and a result is sent again until acknowledged,
 * also on a connection that stays up.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NodeAgentReliabilityTest {
    @TempDir
    Path tmp;

    private AgentFixture fixture;

    @AfterEach
    void stop() throws Exception {
        if (fixture != null) fixture.close();
    }

    private FakeOrchestrator connected(AgentFixture.Kind kind, int resendMillis) throws Exception {
        fixture = new AgentFixture(tmp);
        FakeOrchestrator o = fixture.orchestrator(kind, 0);
        o.onHello = h -> FakeOrchestrator.welcome(h, List.of(), 3000, resendMillis);
        NodeAgent agent = fixture.agent(kind, 2, o.url());
        o.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        return o;
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void anExecuteDeliveredTwiceRunsOnceAlsoAfterItsResultWasAcknowledged(AgentFixture.Kind kind) throws Exception {
        FakeOrchestrator o = connected(kind, 60_000);
        Execute dup = execute("dup-1", "block");

        o.send(dup);
        o.send(dup); // a resend whose ack crossed it
        assertThat(o.next(Started.class).executionId()).isEqualTo("dup-1");
        assertThat(List.of(o.nextAck().seq(), o.nextAck().seq())).as("each copy is acknowledged")
                .containsExactly(dup.seq(), dup.seq());
        o.send(new Cancel(NodeAgentTest.nextSeq(), "dup-1"));
        Result result = o.next(Result.class);
        assertThat(result.result().status()).isEqualTo(JobStatus.CANCELLED);
        o.send(new Ack(result.seq()));

        // A copy arriving after the result was acknowledged and forgotten: acknowledged, not run.
        o.send(dup);
        o.send(execute("marker-1", "print(1)"));
        assertThat(o.next(Started.class).executionId()).as("nothing about dup-1 before the next execution's start")
                .isEqualTo("marker-1");
        assertThat(o.next(Result.class).executionId()).isEqualTo("marker-1");
        assertThat(new ArrayList<>(fixture.script.ran)).containsExactly("dup-1", "marker-1");
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void aCancelThatArrivesBeforeItsExecuteStillCancelsIt(AgentFixture.Kind kind) throws Exception {
        FakeOrchestrator o = connected(kind, 60_000);
        Cancel cancel = new Cancel(NodeAgentTest.nextSeq(), "early-1");

        o.send(cancel);
        assertThat(o.nextAck().seq()).isEqualTo(cancel.seq());
        Execute execute = execute("early-1", "block"); // would run until cancelled
        o.send(execute);

        Result result = o.next(Result.class); // and no started before it
        assertThat(result.executionId()).isEqualTo("early-1");
        assertThat(result.result().status()).isEqualTo(JobStatus.CANCELLED);
        assertThat(result.result().error().message()).isEqualTo("cancelled before it started");
        assertThat(o.nextAck().seq()).isEqualTo(execute.seq());
        assertThat(fixture.script.ran).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void aResultIsSentAgainOnTheSameConnectionUntilAcknowledged(AgentFixture.Kind kind) throws Exception {
        FakeOrchestrator o = connected(kind, 200);

        o.send(execute("unheard-1", "print(1)"));
        assertThat(o.next(Started.class).executionId()).isEqualTo("unheard-1");
        Result first = o.next(Result.class);
        Result again = o.next(Result.class); // after resend_ms, no ack having come
        assertThat(again.executionId()).isEqualTo("unheard-1");
        assertThat(again.seq()).as("the same message again").isEqualTo(first.seq());
        assertThat(o.hellos).as("on the same connection").isEmpty();

        o.send(new Ack(first.seq()));
        o.send(execute("next-1", "print(2)"));
        assertThat(o.next(Started.class).executionId()).isEqualTo("next-1");
        Result next = o.next(Result.class);
        assertThat(next.executionId()).isEqualTo("next-1");
        o.send(new Ack(next.seq()));
        // Acknowledged: not sent again (resends of it would come after 200, 400, 800 ms).
        NodeMessage late = o.received.poll(1500, TimeUnit.MILLISECONDS);
        assertThat(late).as("nothing more after the acks").isNull();
    }
}
