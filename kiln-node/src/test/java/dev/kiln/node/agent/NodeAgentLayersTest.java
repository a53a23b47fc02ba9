package dev.kiln.node.agent;

import static dev.kiln.node.agent.TestLayers.type;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.WorkRoots;
import dev.kiln.node.protocol.NodeMessage;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.WireResult;
import dev.kiln.sandbox.PipSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real agent with real sandboxes, warm pools and layers pip builds offline from wheels written here: the layers it
 * no longer needs go, while the ones it may still use stay, across a restart too.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NodeAgentLayersTest {
    private static final String CODE = "import kilnpkga\nprint(kilnpkga.VALUE)";

    @TempDir
    Path tmp;

    private Path wheels;
    private final String nodeId = "test-" + UUID.randomUUID().toString().substring(0, 8);
    private FakeWsOrchestrator orchestrator;
    private final List<NodeAgent> agents = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        TestLayers.assumeSandbox();
        wheels = TestLayers.wheels(tmp);
        orchestrator = new FakeWsOrchestrator();
    }

    @AfterEach
    void stop() throws Exception {
        agents.forEach(NodeAgent::close);
        if (orchestrator != null) orchestrator.close();
        WorkRoots.discardTree(tmp.resolve("data"));
    }

    @Test
    void aTypesOldLayerGoesOnceItRunsOnANewOneAndTheOldWarmPoolHasDrained() throws Exception {
        NodeAgent agent = startAgent();
        String v1 = run("v1-1", type("pkg", "kilnpkga==1.0"), "1\n");
        // Warm sandboxes on the old layer hold it until the type's pool moves to the new one.
        await().atMost(Duration.ofSeconds(30)).until(() -> agent.poolStats().stream()
                .anyMatch(p -> p.jobType().equals("pkg") && p.ready() > 0));
        assertThat(layer(v1)).isDirectory();

        String v2 = run("v2-1", type("pkg", "kilnpkga==2.0"), "2\n");

        assertThat(v2).isNotEqualTo(v1);
        await().atMost(Duration.ofSeconds(30)).until(() -> !Files.exists(layer(v1)));
        assertThat(layer(v2)).isDirectory();
        assertThat(run("v2-2", type("pkg", "kilnpkga==2.0"), "2\n")).isEqualTo(v2);
    }

    @Test
    void aRestartedNodeKeepsTheLayersYoungerThanTheTtlAndSweepsTheOthers() throws Exception {
        NodeAgent first = startAgent();
        String old = run("old-1", type("old", "kilnpkga==1.0"), "1\n");
        String young = run("young-1", type("young", "kilnpkga==2.0"), "2\n");
        first.close();
        Files.setLastModifiedTime(layer(old), FileTime.from(Instant.now().minus(Duration.ofDays(8))));
        Files.setLastModifiedTime(layer(young), FileTime.from(Instant.now().minus(Duration.ofDays(6))));

        orchestrator.hellos.clear();
        startAgent(); // sweeps once as it starts, before it has seen either type again

        await().atMost(Duration.ofSeconds(30)).until(() -> !Files.exists(layer(old)));
        assertThat(layer(young)).as("6 days unused, under the 7-day default").isDirectory();
    }

    private NodeAgent startAgent() throws Exception {
        NodeAgentConfig config = new NodeAgentConfig(orchestrator.url(), null, Map.of(), 1, "bwrap",
                tmp.resolve("data"), NodeAgentConfig.TransportType.WS, 0, null, nodeId)
                .withPip(PipSources.localOnly(List.of(wheels)));
        NodeAgent agent = new NodeAgent(config);
        agents.add(agent);
        agent.start();
        orchestrator.nextHello();
        assertThat(agent.awaitConnected(Duration.ofSeconds(15))).isTrue();
        return agent;
    }

    /** Runs {@code CODE} as an execution of {@code type}; returns the layer it ran on. */
    private String run(String executionId, JobType type, String stdout) throws InterruptedException {
        orchestrator.received.clear();
        orchestrator.send(new Execute(NodeAgentTest.nextSeq(), new ExecutionRequest(executionId, executionId.substring(0,
                executionId.lastIndexOf('-')), 1, new JobSpec(CODE, null, Map.of(), type.name(), null), type, 30,
                OutputLimits.DEFAULTS, null), "bwrap"));
        WireResult r = resultOf(executionId);
        assertThat(r.status()).as(r.stderr() + " " + r.error()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo(stdout);
        return r.layerDigest();
    }

    private WireResult resultOf(String executionId) throws InterruptedException {
        while (true) {
            NodeMessage m = orchestrator.received.poll(60, TimeUnit.SECONDS);
            assertThat(m).as("the result of " + executionId).isNotNull();
            if (m instanceof NodeMessage.Result r && r.executionId().equals(executionId)) return r.result();
        }
    }

    private Path layer(String digest) throws Exception {
        return WorkRoots.sandboxVisibleRoot(tmp.resolve("data")).resolve("layers").resolve(digest);
    }

}
