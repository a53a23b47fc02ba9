package dev.kiln.node.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.JobError;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import dev.kiln.node.protocol.NodeMessage.Ack;
import dev.kiln.node.protocol.NodeMessage.Cancel;
import dev.kiln.node.protocol.NodeMessage.Execute;
import dev.kiln.node.protocol.NodeMessage.Heartbeat;
import dev.kiln.node.protocol.NodeMessage.Hello;
import dev.kiln.node.protocol.NodeMessage.Refused;
import dev.kiln.node.protocol.NodeMessage.Result;
import dev.kiln.node.protocol.NodeMessage.Started;
import dev.kiln.node.protocol.NodeMessage.Welcome;
import dev.kiln.node.protocol.WireResult.WireArtifact;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Every message survives encode then decode; broken messages are refused naming the field. */
class NodeMessageCodecTest {
    private final NodeMessageCodec codec = new NodeMessageCodec();

    private NodeMessage roundTrip(NodeMessage m) {
        return codec.decode(codec.encode(m));
    }

    @Test
    void helloRoundTrips() {
        Hello hello = new Hello(2, "node-abc", "secret", Map.of("zone", "a", "gpu", "none"), 4,
                Set.of("noop", "bwrap"), "bwrap", List.of("default", "ml"), List.of("job-1-1", "job-2-1"),
                Map.of("ml", 1), List.of("job-3-1"));
        assertThat(roundTrip(hello)).isEqualTo(hello);
        assertThat(codec.encode(hello)).contains("\"interrupted\":[\"job-3-1\"]");
    }

    @Test
    void aHelloWithoutInterruptedReportsNone() {
        Hello hello = (Hello) codec.decode("""
                {"type":"hello","protocol":2,"node_id":"n","token":null,"labels":{},"slots":1,"executors":["noop"],
                 "default_executor":"noop","job_types":null,"holding":[]}""");
        assertThat(hello.interrupted()).isEmpty();
    }

    @Test
    void helloWithoutTokenTakesAnyJobType() {
        Hello hello = new Hello(2, "node-abc", null, Map.of(), 1, Set.of("noop"), "noop", null, List.of());
        String text = codec.encode(hello);
        assertThat(text).contains("\"job_types\":null").contains("\"token\":null");
        assertThat(roundTrip(hello)).isEqualTo(hello);
    }

    @Test
    void smallMessagesRoundTrip() {
        for (NodeMessage m : List.of(new Heartbeat(3, 1), new Started("job-1-1"), new Cancel(7, "job-1-1"),
                new Ack(Long.MAX_VALUE), new Refused("removed", "the operator deleted this node"),
                new Welcome("node-abc", "s3cr3t", 1000, 3000, List.of("job-9-1"), 2000),
                new Welcome("node-abc", null, 1000, 3000, List.of(), 50))) {
            assertThat(roundTrip(m)).as(m.toString()).isEqualTo(m);
        }
    }

    @Test
    void aWelcomeWithoutResendMillisResendsAfterTwoHeartbeats() {
        Welcome w = (Welcome) codec.decode("{\"type\":\"welcome\",\"node_id\":\"n\",\"heartbeat_ms\":700,"
                + "\"lease_ms\":3000}");
        assertThat(w.resendMillis()).isEqualTo(1400);
    }

    @Test
    void reliableMessagesNeedAPositiveSeq() {
        assertThatThrownBy(() -> codec.decode("{\"type\":\"cancel\",\"execution_id\":\"x\"}"))
                .isInstanceOf(ProtocolException.class).hasMessage("seq: required integer");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"cancel\",\"seq\":0,\"execution_id\":\"x\"}"))
                .isInstanceOf(ProtocolException.class).hasMessage("seq: must be a positive integer, got 0");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"ack\",\"seq\":\"7\"}"))
                .isInstanceOf(ProtocolException.class).hasMessage("seq: required integer");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"result\",\"seq\":-3,\"execution_id\":\"x\","
                + "\"result\":{\"status\":\"succeeded\",\"error\":null}}")).hasMessageContaining("seq");
        ExecutionRequest request = new ExecutionRequest("job-2-1", "job-2", 1, JobSpec.python("print(1)"),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS, null);
        String good = codec.encode(new Execute(4, request, "noop"));
        assertThat(good).contains("\"seq\":4");
        assertThatThrownBy(() -> codec.decode(good.replace("\"seq\":4", "\"seq\":null")))
                .hasMessage("seq: required integer");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"welcome\",\"node_id\":\"n\",\"heartbeat_ms\":700,"
                + "\"lease_ms\":3000,\"resend_ms\":0}")).hasMessageContaining("resend_ms");
    }

    @Test
    void liveOutputRoundTripsItsBytesAndRefusesAnUnknownStream() {
        NodeMessage.Output out = (NodeMessage.Output) roundTrip(
                new NodeMessage.Output("job-1-1", "stderr", new byte[]{'h', 'i', (byte) 0xC3}));
        assertThat(out.executionId()).isEqualTo("job-1-1");
        assertThat(out.stream()).isEqualTo("stderr");
        assertThat(out.data()).containsExactly('h', 'i', (byte) 0xC3);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> codec.decode(
                "{\"type\":\"output\",\"execution_id\":\"x\",\"stream\":\"stdin\",\"data\":\"\"}"))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("stream");
    }

    @Test
    void executeWithFilesRoundTrips() {
        JobType type = new JobType("ml", 256L << 20, 0.5, 20, 60, 32, true, Map.of("MODE", "fast"), "bwrap",
                1 << 16, 1 << 20, new PackageSpec("3.11", List.of("numpy==2.0"), List.of("/srv/shared")),
                new WarmPoolSpec(2, 1, 300)).withNetwork(dev.kiln.core.NetworkPolicy.parse(
                List.of("pypi.org", "10.1.2.0/24", "example.com:443")));
        JobSpec spec = new JobSpec("print(open('/input/data.bin','rb').read())", "{\"n\": 3}",
                Map.of("data.bin", new byte[]{0, 1, 2, (byte) 255}, "dir/notes.txt",
                        "hé".getBytes(StandardCharsets.UTF_8)), "ml", 15, List.of("zone=a", "gpu exists"));
        ExecutionRequest request = new ExecutionRequest("job-1-2", "job-1", 2, spec, type, 15,
                new OutputLimits(1000, 2000, 3000, 4000, 5), "ab".repeat(32));
        Execute execute = new Execute(12, request, "bwrap");

        Execute back = (Execute) roundTrip(execute);

        assertThat(back.seq()).isEqualTo(12);
        assertThat(back.executionId()).isEqualTo("job-1-2");
        assertThat(back.executor()).isEqualTo("bwrap");
        assertThat(back.request()).isEqualTo(request); // JobSpec compares file contents
        assertThat(back.request().jobType().network()).isEqualTo(type.network()); // the allow list reaches the node
        assertThat(back.request().spec().files().get("data.bin")).containsExactly(0, 1, 2, 255);
    }

    @Test
    void executeWithoutLayerOrFilesRoundTrips() {
        ExecutionRequest request = new ExecutionRequest("job-2-1", "job-2", 1, JobSpec.python("print(1)"),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS, null);
        Execute back = (Execute) roundTrip(new Execute(1, request, "noop"));
        assertThat(back.request()).isEqualTo(request);
        assertThat(back.request().layerDigest()).isNull();
    }

    @Test
    void resultWithArtifactRoundTrips() {
        byte[] content = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        WireResult r = new WireResult(JobStatus.SUCCEEDED, 0, "out", "err", true, false, "{\"ok\":true}", null, 12,
                34, List.of(new WireArtifact("table.csv", content.length, "cd".repeat(32), content)), "ef".repeat(32));

        Result back = (Result) roundTrip(new Result(3, "job-1-1", r));

        assertThat(back.seq()).isEqualTo(3);
        assertThat(back.executionId()).isEqualTo("job-1-1");
        WireResult b = back.result();
        assertThat(b).usingRecursiveComparison().ignoringFields("artifacts").isEqualTo(r);
        assertThat(b.artifacts()).hasSize(1);
        WireArtifact a = b.artifacts().getFirst();
        assertThat(a.name()).isEqualTo("table.csv");
        assertThat(a.size()).isEqualTo(content.length);
        assertThat(a.sha256()).isEqualTo("cd".repeat(32));
        assertThat(a.content()).isEqualTo(content);
    }

    @Test
    void failedResultRoundTrips() {
        WireResult r = new WireResult(JobStatus.FAILED, null, "", "", false, false, null,
                new JobError(ErrorType.SANDBOX_ERROR, "no free slot", JobError.PHASE_SETUP), 0, 0, List.of(), null);
        Result back = (Result) roundTrip(new Result(1, "job-1-1", r));
        assertThat(back.result()).isEqualTo(r);
    }

    @Test
    void manyMessagesTravelAsOneArray() {
        List<NodeMessage> messages = List.of(new Heartbeat(1, 0), new Started("a"), new Ack(9));
        assertThat(codec.decodeAll(codec.encodeAll(messages))).isEqualTo(messages);
        assertThat(codec.decodeAll("[]")).isEmpty();
    }

    @Test
    void unknownFieldsAreIgnored() {
        assertThat(codec.decode("{\"type\":\"ack\",\"seq\":5,\"added_later\":[1,2]}"))
                .isEqualTo(new Ack(5));
    }

    @Test
    void brokenMessagesNameTheField() {
        assertThatThrownBy(() -> codec.decode("{\"execution_id\":\"x\"}")).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("type");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"shout\"}")).hasMessageContaining("type")
                .hasMessageContaining("shout");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"ack\"}")).hasMessageContaining("seq");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"cancel\",\"seq\":1}")).hasMessageContaining("execution_id");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"heartbeat\",\"free\":\"many\",\"running\":0}"))
                .hasMessageContaining("free");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"welcome\",\"node_id\":\"n\",\"lease_ms\":3000}"))
                .hasMessageContaining("heartbeat_ms");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"result\",\"seq\":1,\"execution_id\":\"x\",\"result\":"
                + "{\"status\":\"running\",\"error\":null}}")).hasMessageContaining("result.status");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"result\",\"seq\":1,\"execution_id\":\"x\",\"result\":"
                + "{\"status\":\"failed\",\"error\":null}}")).hasMessageContaining("result.error");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"result\",\"seq\":1,\"execution_id\":\"x\",\"result\":"
                + "{\"status\":\"succeeded\",\"error\":null,\"artifacts\":[{\"name\":\"a\",\"size\":1,"
                + "\"sha256\":\"x\",\"content\":\"!!\"}]}}")).hasMessageContaining("content");
        assertThatThrownBy(() -> codec.decode("[1]")).hasMessageContaining("JSON object");
        assertThatThrownBy(() -> codec.decode("{not json")).hasMessageContaining("JSON");
        assertThatThrownBy(() -> codec.decodeAll("{\"type\":\"ack\",\"seq\":1}"))
                .hasMessageContaining("array");
    }

    @Test
    void brokenExecuteNamesTheField() {
        ExecutionRequest request = new ExecutionRequest("job-2-1", "job-2", 1, JobSpec.python("print(1)"),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS, null);
        String good = codec.encode(new Execute(1, request, "noop"));
        assertThatThrownBy(() -> codec.decode(good.replace("\"spec\":{", "\"spec_gone\":{")))
                .hasMessageContaining("spec");
        assertThatThrownBy(() -> codec.decode(good.replace("\"executor\":\"noop\"", "\"executor\":7")))
                .hasMessageContaining("executor");
    }

    @Test
    void brokenPayloadsNameTheirPath() {
        ExecutionRequest request = new ExecutionRequest("job-2-1", "job-2", 1, JobSpec.python("print(1)"),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS, null);
        String good = codec.encode(new Execute(1, request, "noop"));
        assertThatThrownBy(() -> codec.decode(good.replace("\"timeout\":30", "\"timeout\":\"soon\"")))
                .isInstanceOf(ProtocolException.class).hasMessage("job_type.timeout: required integer");
        assertThatThrownBy(() -> codec.decode(good.replace("\"pool_idle_ttl\":600", "\"pool_idle_ttl\":0")))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("job_type.pool");
        assertThatThrownBy(() -> codec.decode(good.replace("\"files\":{}", "\"files\":{\"a.txt\":\"!!\"}")))
                .isInstanceOf(ProtocolException.class).hasMessage("spec.files.a.txt: not base64");
        assertThatThrownBy(() -> codec.decode("{\"type\":\"result\",\"seq\":1,\"execution_id\":\"x\",\"result\":"
                + "{\"status\":\"succeeded\",\"error\":null,\"artifacts\":[{\"name\":\"a\",\"size\":1,"
                + "\"content\":\"\"}]}}")).isInstanceOf(ProtocolException.class)
                .hasMessage("result.artifacts[0].sha256: required string");
    }
}
