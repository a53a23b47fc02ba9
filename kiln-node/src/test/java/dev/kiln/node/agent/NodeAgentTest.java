package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobError;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import dev.kiln.node.NodeExecutors;
import dev.kiln.node.protocol.NodeMessage;
import org.awaitility.Awaitility;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import dev.kiln.node.protocol.WireResult;
import dev.kiln.sandbox.NoopExecutor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real agent (real LocalComputeNode, real transports) against a fake orchestrator speaking docs/protocol.md over
 * each transport. Executions use noop and a scripted executor (no sandbox needed).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang fails instead of stalling the build
class NodeAgentTest {
    enum Kind { WS, LONG_POLL, INTERVAL_POLL }

    private static final JobType PLAIN = JobType.defaults("default");

    @TempDir
    Path tmp;

    private FakeOrchestrator orchestrator;
    private final List<NodeAgent> agents = new ArrayList<>();

    @BeforeEach
    void searchableTempDir() throws Exception {
        // Work dirs under the data dir (as in production) rather than /var/tmp/kiln: see WorkRoots.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
    }

    @AfterEach
    void stop() throws Exception {
        agents.forEach(NodeAgent::close);
        if (orchestrator != null) orchestrator.close();
        // The agents' data dirs, with the work roots under /var/tmp/kiln they were given; JUnit removes tmp itself.
        try (var children = java.nio.file.Files.list(tmp)) {
            for (Path child : children.toList()) dev.kiln.node.WorkRoots.discardTree(child);
        }
    }

    private NodeAgent start(Kind kind, int slots, List<String> jobTypes) throws Exception {
        orchestrator = kind == Kind.WS ? new FakeWsOrchestrator() : new FakePollOrchestrator();
        NodeAgentConfig.TransportType transport = kind == Kind.WS ? NodeAgentConfig.TransportType.WS
                : NodeAgentConfig.TransportType.POLL;
        NodeAgentConfig config = new NodeAgentConfig(orchestrator.url(), "join-token", Map.of("zone", "a"), slots,
                "noop", tmp.resolve("data"), transport, kind == Kind.INTERVAL_POLL ? 20 : 0, jobTypes, null);
        NodeAgent agent = new NodeAgent(config, new NodeExecutors(
                Map.of(NoopExecutor.NAME, new NoopExecutor(), ScriptExecutor.NAME, new ScriptExecutor()), null, null));
        agents.add(agent);
        agent.start();
        return agent;
    }

    private static final AtomicLong SEQS = new AtomicLong();

    static long nextSeq() {
        return SEQS.incrementAndGet();
    }

    private static Execute execute(String executionId, String executor, String code, JobType type) {
        String jobId = executionId.substring(0, executionId.lastIndexOf('-'));
        return new Execute(nextSeq(), new ExecutionRequest(executionId, jobId, 1,
                new JobSpec(code, null, Map.of(), type.name(), null), type, 30, OutputLimits.DEFAULTS,
                "orchestrator-side-digest"), executor);
    }

    private void reconnect(NodeAgent agent) throws InterruptedException {
        orchestrator.dropConnection();
        await().atMost(Duration.ofSeconds(15)).until(() -> !orchestrator.hellos.isEmpty());
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void saysHelloWithWhatTheNodeOffers(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 3, List.of("default", "ml"));

        Hello hello = orchestrator.nextHello();

        assertThat(hello.protocol()).isEqualTo(2);
        assertThat(hello.nodeId()).isEqualTo(agent.nodeId()).matches("node-[0-9a-f]{12}");
        assertThat(hello.token()).isEqualTo("join-token");
        assertThat(hello.slots()).isEqualTo(3);
        assertThat(hello.executors()).containsExactlyInAnyOrder("noop", "script");
        assertThat(hello.defaultExecutor()).isEqualTo("noop");
        assertThat(hello.jobTypes()).containsExactly("default", "ml");
        assertThat(hello.labels()).containsEntry("zone", "a").containsEntry("executors", "noop,script")
                .containsKeys("arch", "os", "cpus");
        assertThat(hello.holding()).isEmpty();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        assertThat(orchestrator.heartbeats.poll(15, TimeUnit.SECONDS)).isEqualTo(new NodeMessage.Heartbeat(3, 0));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void runsAnExecutionAndKeepsItsResultUntilAcknowledged(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 2, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();

        orchestrator.send(execute("job1-1", "script", "artifact:table.csv:a,b\n1,2\n", PLAIN));

        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("job1-1");
        Result result = orchestrator.next(Result.class);
        assertThat(result.executionId()).isEqualTo("job1-1");
        WireResult r = result.result();
        assertThat(r.status()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("wrote table.csv");
        assertThat(r.layerDigest()).as("the node's own digest, not the orchestrator's hint").isNull();
        assertThat(r.artifacts()).singleElement().satisfies(a -> {
            assertThat(a.name()).isEqualTo("table.csv");
            assertThat(new String(a.content(), StandardCharsets.UTF_8)).isEqualTo("a,b\n1,2\n");
        });

        // Not acknowledged: claimed in the next hello and sent again after the welcome.
        reconnect(agent);
        assertThat(orchestrator.nextHello().holding()).containsExactly("job1-1");
        assertThat(orchestrator.next(Result.class).executionId()).isEqualTo("job1-1");

        // Acknowledged: forgotten. (Messages are handled in order: once the next execution's result is back, the
        // ack has been handled.)
        orchestrator.send(new Ack(result.seq()));
        orchestrator.send(execute("job2-1", "noop", "", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("job2-1");
        assertThat(orchestrator.next(Result.class).executionId()).isEqualTo("job2-1");
        reconnect(agent);
        assertThat(orchestrator.nextHello().holding()).containsExactly("job2-1");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void welcomeCancelDropsWhatIsNoLongerTheNodes(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 3, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        orchestrator.send(execute("done1-1", "noop", "", PLAIN));
        orchestrator.send(execute("done2-1", "noop", "", PLAIN));
        orchestrator.send(execute("busy-1", "script", "block", PLAIN));
        List<String> results = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            NodeMessage m = orchestrator.received.poll(15, TimeUnit.SECONDS);
            assertThat(m).isNotNull();
            if (m instanceof Result res) results.add(res.executionId());
        }
        assertThat(results).containsExactlyInAnyOrder("done1-1", "done2-1");

        orchestrator.onHello = h -> FakeOrchestrator.welcome(h, List.of("done2-1", "busy-1"));
        reconnect(agent);

        assertThat(orchestrator.nextHello().holding()).containsExactlyInAnyOrder("done1-1", "done2-1", "busy-1");
        assertThat(orchestrator.next(Result.class).executionId()).isEqualTo("done1-1"); // done2-1 is not resent
        // busy-1 was killed; once nothing runs, its result has been dropped, not sent.
        orchestrator.heartbeats.clear(); // all from before busy-1 started or while it ran
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            NodeMessage.Heartbeat h = orchestrator.heartbeats.poll(1, TimeUnit.SECONDS);
            return h != null && h.running() == 0 && h.free() == 3;
        });
        assertThat(orchestrator.received).isEmpty();

        orchestrator.onHello = h -> FakeOrchestrator.welcome(h, List.of());
        reconnect(agent);
        assertThat(orchestrator.nextHello().holding()).containsExactly("done1-1");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theSlotOfAnExecutionTakenBackGoesToTheNextOneOnceItDied(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 1, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        orchestrator.send(execute("old-1", "script", "linger", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("old-1");

        // The orchestrator re-queued old-1 elsewhere: its credit is free at once, though old-1 takes a while to die.
        orchestrator.onHello = h -> FakeOrchestrator.welcome(h, List.of("old-1"));
        reconnect(agent);
        assertThat(orchestrator.nextHello().holding()).containsExactly("old-1");
        orchestrator.send(execute("new-1", "script", "print(1)", PLAIN));

        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("new-1");
        Result result = orchestrator.next(Result.class);
        assertThat(result.executionId()).isEqualTo("new-1");
        assertThat(result.result().status()).isEqualTo(JobStatus.SUCCEEDED);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void cancelKillsARunningExecutionAndStillReportsIt(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 1, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();

        orchestrator.send(execute("slow-1", "script", "block", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("slow-1");
        orchestrator.send(new Cancel(nextSeq(), "slow-1"));

        Result result = orchestrator.next(Result.class);
        assertThat(result.executionId()).isEqualTo("slow-1");
        assertThat(result.result().status()).isEqualTo(JobStatus.CANCELLED);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void answersWhatItCannotTakeWithAFailedResult(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 1, List.of("default", "ml"));
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        JobType ml = new JobType("ml", JobType.DEFAULT_MEMORY, 1, 30, 300, 64, false, Map.of(), null, 1 << 16,
                1 << 20, new PackageSpec(null, List.of("numpy"), List.of()));
        JobType other = JobType.defaults("other");

        orchestrator.send(execute("nobwrap-1", "bwrap", "print(1)", PLAIN));
        assertRefused(orchestrator.next(Result.class), "nobwrap-1", "no executor 'bwrap'");

        orchestrator.send(execute("layer-1", "noop", "", ml));
        assertRefused(orchestrator.next(Result.class), "layer-1", "needs a layer");

        orchestrator.send(execute("type-1", "noop", "", other));
        assertRefused(orchestrator.next(Result.class), "type-1", "does not take job type 'other'");

        orchestrator.send(execute("first-1", "script", "block", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("first-1");
        orchestrator.send(execute("second-1", "noop", "", PLAIN));
        assertRefused(orchestrator.next(Result.class), "second-1", "no free slot");

        orchestrator.send(new Cancel(nextSeq(), "first-1"));
        assertThat(orchestrator.next(Result.class).executionId()).isEqualTo("first-1");
    }

    private static void assertRefused(Result result, String executionId, String why) {
        assertThat(result.executionId()).isEqualTo(executionId);
        assertThat(result.result().status()).isEqualTo(JobStatus.FAILED);
        JobError error = result.result().error();
        assertThat(error.type()).isEqualTo(ErrorType.SANDBOX_ERROR);
        assertThat(error.phase()).isEqualTo(JobError.PHASE_SETUP);
        assertThat(error.message()).contains(why);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void stopsForGoodWhenTheOrchestratorRemovedTheNode(Kind kind) throws Exception {
        orchestrator = null;
        NodeAgent agent = startRefusing(kind, new Refused("removed", "the operator deleted this node"));

        assertThat(agent.awaitStopped(Duration.ofSeconds(15))).isTrue();
        assertThat(agent.stopReason()).isEqualTo("removed: the operator deleted this node");
        assertThat(agent.connected()).isFalse();
        assertThat(orchestrator.hellos).hasSize(1);
    }

    private NodeAgent startRefusing(Kind kind, Refused refusal) throws Exception {
        FakeOrchestrator o = kind == Kind.WS ? new FakeWsOrchestrator() : new FakePollOrchestrator();
        o.onHello = h -> refusal;
        orchestrator = o;
        NodeAgentConfig.TransportType transport = kind == Kind.WS ? NodeAgentConfig.TransportType.WS
                : NodeAgentConfig.TransportType.POLL;
        NodeAgent agent = new NodeAgent(new NodeAgentConfig(o.url(), null, Map.of(), 1, null, tmp.resolve("data"),
                transport, kind == Kind.INTERVAL_POLL ? 20 : 0, null, null), NodeExecutors.noopOnly());
        agents.add(agent);
        agent.start();
        return agent;
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void stopsWhenAnotherConnectionReplacedIt(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 1, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();

        orchestrator.send(new Refused("replaced", "a newer connection of this node took over"));

        assertThat(agent.awaitStopped(Duration.ofSeconds(15))).isTrue();
        assertThat(agent.stopReason()).startsWith("replaced");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void retriesAfterARefusalThatMayPass(Kind kind) throws Exception {
        AtomicInteger hellos = new AtomicInteger();
        NodeAgent agent = startRefusing(kind, null);
        orchestrator.onHello = h -> hellos.incrementAndGet() < 3 ? new Refused("bad_message", "try again")
                : FakeOrchestrator.welcome(h, List.of());

        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        assertThat(hellos.get()).isEqualTo(3);
        assertThat(agent.stopReason()).isNull();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void closeEndsTheConnectionAndReportsNoCancelledResults(Kind kind) throws Exception {
        NodeAgent agent = start(kind, 1, null);
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        orchestrator.send(execute("long-1", "script", "block", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("long-1");

        agent.close();

        assertThat(agent.connected()).isFalse();
        assertThat(agent.awaitStopped(Duration.ofSeconds(1))).isTrue();
        assertThat(agent.stopReason()).isNull();
        assertThat(orchestrator.received).noneMatch(m -> m instanceof Result);
        if (orchestrator instanceof FakeWsOrchestrator ws) {
            await().atMost(Duration.ofSeconds(15)).until(() -> ws.closeFrames.get() == 1);
        }
    }

    @Test
    void runsPythonInARealSandboxWhenThisMachineCan() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes");
        orchestrator = new FakeWsOrchestrator();
        // Its own id, hence its own cgroup parent (kiln-<id>), apart from anything else on this host.
        NodeAgent agent = new NodeAgent(new NodeAgentConfig(orchestrator.url(), null, Map.of(), 1, "bwrap",
                tmp.resolve("data"), NodeAgentConfig.TransportType.WS, 0, null,
                "test-" + UUID.randomUUID().toString().substring(0, 8)));
        agents.add(agent);
        agent.start();
        assertThat(orchestrator.nextHello().executors()).containsExactlyInAnyOrder("bwrap", "noop");
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();

        orchestrator.send(execute("py-1", "bwrap", "print(6 * 7)", PLAIN));

        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("py-1");
        // What it printed comes live (coalesced) before the result, which carries it all again.
        NodeMessage.Output live = orchestrator.next(NodeMessage.Output.class);
        assertThat(live.stream()).isEqualTo("stdout");
        assertThat(new String(live.data(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("42\n");
        WireResult r = orchestrator.next(Result.class).result();
        assertThat(r.status()).as(String.valueOf(r.error())).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("42\n");

        // The type has run here, so its pool fills: the next job of it is served by a warm sandbox.
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> agent.poolStats().stream()
                .anyMatch(p -> p.jobType().equals("default") && p.ready() > 0));
        orchestrator.send(execute("py-2", "bwrap", "print(6 * 8)", PLAIN));
        assertThat(orchestrator.next(Started.class).executionId()).isEqualTo("py-2");
        orchestrator.next(NodeMessage.Output.class);
        WireResult warm = orchestrator.next(Result.class).result();
        assertThat(warm.stdout()).isEqualTo("48\n");
        assertThat(agent.poolStats().stream().filter(p -> p.jobType().equals("default")).findFirst()
                .orElseThrow().hits()).isEqualTo(1);
    }
}
