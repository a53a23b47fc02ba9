package dev.kiln.node.agent;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.node.NodeExecutors;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.sandbox.NoopExecutor;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Real agents (noop and {@link ScriptExecutor}) against fake orchestrators, for the agent tests beyond the basics. */
final class AgentFixture implements AutoCloseable {
    enum Kind { WS, LONG_POLL }

    static final JobType PLAIN = JobType.defaults("default");

    private final Path dir;
    private final List<NodeAgent> agents = new ArrayList<>();
    private final List<FakeOrchestrator> orchestrators = new ArrayList<>();
    final ScriptExecutor script = new ScriptExecutor();

    AgentFixture(Path dir) throws IOException {
        this.dir = dir;
        // Work dirs under the data dir (as in production) rather than /var/tmp/kiln: see WorkRoots.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    }

    /** A fake orchestrator for the transport, on {@code port} (0: any). */
    FakeOrchestrator orchestrator(Kind kind, int port) throws IOException {
        FakeOrchestrator o = kind == Kind.WS ? new FakeWsOrchestrator(port) : new FakePollOrchestrator(port);
        orchestrators.add(o);
        return o;
    }

    /** A started agent with {@code slots} dialing {@code urls} in order. */
    NodeAgent agent(Kind kind, int slots, URI... urls) throws IOException {
        NodeAgentConfig config = new NodeAgentConfig(List.of(urls), null, Map.of(), slots, "noop", dir.resolve("data"),
                kind == Kind.WS ? NodeAgentConfig.TransportType.WS : NodeAgentConfig.TransportType.POLL, 0, null,
                null, Map.of(), null, null);
        NodeAgent agent = new NodeAgent(config, new NodeExecutors(
                Map.of(NoopExecutor.NAME, new NoopExecutor(), ScriptExecutor.NAME, script), null, null));
        agents.add(agent);
        agent.start();
        return agent;
    }

    /** An execute of the script executor ({@code code}: see {@link ScriptExecutor}), with a fresh seq. */
    static Execute execute(String executionId, String code) {
        return execute(NodeAgentTest.nextSeq(), executionId, code);
    }

    static Execute execute(long seq, String executionId, String code) {
        String jobId = executionId.substring(0, executionId.lastIndexOf('-'));
        return new Execute(seq, new ExecutionRequest(executionId, jobId, 1,
                new JobSpec(code, null, Map.of(), PLAIN.name(), null), PLAIN, 30, OutputLimits.DEFAULTS, null),
                ScriptExecutor.NAME);
    }

    /** A loopback port nothing listens on (connecting is refused). */
    static int deadPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        agents.forEach(NodeAgent::close);
        for (FakeOrchestrator o : orchestrators) o.close();
        try (var children = Files.list(dir)) {
            for (Path child : children.toList()) dev.kiln.node.WorkRoots.discardTree(child);
        }
    }
}
