package dev.kiln.node.agent;

import static dev.kiln.node.agent.AgentFixture.execute;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import java.net.URI;
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
 * A real agent whose orchestrator goes away: past its lease it stops its executions itself and reports them
 * interrupted when it is back; with a list of orchestrators it moves to the next and delivers its pending result
 * there, once.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NodeAgentFailoverTest {
    private static final int LEASE_MS = 600;

    @TempDir
    Path tmp;

    private AgentFixture fixture;

    @AfterEach
    void stop() throws Exception {
        if (fixture != null) fixture.close();
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void aNodeCutOffPastItsLeaseStopsItsExecutionsAndReportsThemInterrupted(AgentFixture.Kind kind)
            throws Exception {
        fixture = new AgentFixture(tmp);
        FakeOrchestrator o = fixture.orchestrator(kind, 0);
        int port = o.url().getPort();
        o.onHello = h -> FakeOrchestrator.welcome(h, List.of(), LEASE_MS, 60_000);
        NodeAgent agent = fixture.agent(kind, 1, o.url());
        o.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        o.send(execute("fenced-1", "block"));
        assertThat(o.next(Started.class).executionId()).isEqualTo("fenced-1");
        // While the orchestrator confirms what the node sends, the execution runs on well past one lease.
        assertThat(fixture.script.killed.poll(3 * LEASE_MS, TimeUnit.MILLISECONDS)).isNull();

        long gone = System.nanoTime();
        o.close(); // its port now refuses connections
        assertThat(fixture.script.killed.poll(15, TimeUnit.SECONDS)).isEqualTo("fenced-1");
        long stoppedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - gone);
        assertThat(stoppedAfterMs).as("ms from the orchestrator going away to the kill").isLessThan(LEASE_MS + 1500);

        FakeOrchestrator back = fixture.orchestrator(kind, port);
        back.onHello = h -> FakeOrchestrator.welcome(h, List.of(), LEASE_MS, 60_000);
        Hello hello = back.nextHello();
        assertThat(hello.interrupted()).containsExactly("fenced-1");
        assertThat(hello.holding()).as("no result kept for it: it is not the job's failure").isEmpty();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        assertThat(back.received.poll(500, TimeUnit.MILLISECONDS)).as("nothing sent about fenced-1").isNull();

        back.dropConnection();
        assertThat(back.nextHello().interrupted()).as("reported once").isEmpty();
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void connectsToTheFirstOrchestratorOfTheListThatAnswers(AgentFixture.Kind kind) throws Exception {
        fixture = new AgentFixture(tmp);
        FakeOrchestrator alive = fixture.orchestrator(kind, 0);
        URI dead = URI.create("http://127.0.0.1:" + AgentFixture.deadPort());

        NodeAgent agent = fixture.agent(kind, 1, dead, alive.url());

        alive.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void movesToTheNextOrchestratorWhenTheOneInUseGoesAwayAndDeliversItsPendingResultOnce(AgentFixture.Kind kind)
            throws Exception {
        fixture = new AgentFixture(tmp);
        FakeOrchestrator first = fixture.orchestrator(kind, 0);
        FakeOrchestrator second = fixture.orchestrator(kind, 0);
        NodeAgent agent = fixture.agent(kind, 1, first.url(), second.url());
        first.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        first.send(execute("pending-1", "print(1)"));
        assertThat(first.next(Started.class).executionId()).isEqualTo("pending-1");
        Result sent = first.next(Result.class); // the orchestrator goes away before acknowledging it

        first.close();

        Hello hello = second.nextHello();
        assertThat(hello.holding()).containsExactly("pending-1");
        Result resent = second.next(Result.class);
        assertThat(resent.seq()).isEqualTo(sent.seq());
        assertThat(resent.result()).isEqualTo(sent.result());
        second.send(new Ack(resent.seq()));
        assertThat(second.received.poll(1500, TimeUnit.MILLISECONDS)).as("delivered once").isNull();
        assertThat(new ArrayList<>(fixture.script.ran)).as("run once").containsExactly("pending-1");
    }

    @ParameterizedTest
    @EnumSource(AgentFixture.Kind.class)
    void anOrchestratorThatWillNotTakeTheNodeSendsItToTheNextAndOnlyAllOfThemStopIt(AgentFixture.Kind kind)
            throws Exception {
        fixture = new AgentFixture(tmp);
        FakeOrchestrator old = fixture.orchestrator(kind, 0);
        FakeOrchestrator other = fixture.orchestrator(kind, 0);
        old.onHello = h -> new Refused("protocol_version", "this orchestrator speaks version 1");
        other.onHello = h -> new Refused("unauthorized", "wrong join token");
        NodeAgent agent = fixture.agent(kind, 1, old.url(), other.url());
        old.nextHello();
        other.nextHello();
        assertThat(agent.awaitStopped(Duration.ofSeconds(15))).as("every orchestrator refused it for good").isTrue();
        assertThat(agent.stopReason()).startsWith("unauthorized");

        FakeOrchestrator upgraded = fixture.orchestrator(kind, 0);
        NodeAgent second = fixture.agent(kind, 1, old.url(), upgraded.url());
        upgraded.nextHello();
        assertThat(second.awaitConnected(Duration.ofSeconds(15))).isTrue();
        assertThat(second.stopReason()).isNull();
    }
}
