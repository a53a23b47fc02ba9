package dev.kiln.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Artifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * Texts as kiln-store's JobJsonMapper and JobTypeJsonMapper wrote them into SQLite before kiln-json existed (and
 * older ones, from before constraints, layer digests and warm pools). Databases hold them: they must keep reading
 * back the same, and what is written now must be the same text.
 */
class StoredFormatTest {
    private final JsonMapper json = JsonMapper.builder().build();

    private static final String SPEC = """
            {"code":"print(1)","input_data_json":"{\\"n\\": [1, 2]}","files":{"data.bin":"AAEC/w==","dir/notes.txt":\
            "aMOp"},"job_type":"ml","timeout_seconds":15,"constraints":["zone=a","gpu exists"]}""";
    private static final JobSpec SPEC_VALUE = new JobSpec("print(1)", "{\"n\": [1, 2]}",
            Map.of("data.bin", new byte[]{0, 1, 2, (byte) 255}, "dir/notes.txt", "hé".getBytes(StandardCharsets.UTF_8)),
            "ml", 15, List.of("zone=a", "gpu exists"));

    private static final String MINIMAL_SPEC = """
            {"code":"print(2)","input_data_json":null,"files":{},"job_type":"default","timeout_seconds":null,\
            "constraints":[]}""";

    private static final String RESULT = """
            {"exit_code":0,"stdout":"out\\n","stderr":"err","stdout_truncated":true,"stderr_truncated":false,\
            "output_json":"{\\"ok\\": true}","error":null,"startup_ms":12,"execution_ms":34,"layer_digest":\
            "efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef","artifacts":[{"name":"table.csv",\
            "size":8,"sha256":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}]}""";
    private static final JobResult RESULT_VALUE = new JobResult(0, "out\n", "err", true, false, "{\"ok\": true}", null,
            12, 34, List.of(new Artifact("table.csv", 8, "cd".repeat(32))), "ef".repeat(32));

    private static final String FAILED_RESULT = """
            {"exit_code":null,"stdout":"","stderr":"","stdout_truncated":false,"stderr_truncated":false,\
            "output_json":null,"error":{"type":"execution_timeout","message":"took too long","phase":"execution"},\
            "startup_ms":0,"execution_ms":0,"layer_digest":null,"artifacts":[]}""";
    private static final JobResult FAILED_RESULT_VALUE =
            JobResult.errorOnly(new JobError(ErrorType.EXECUTION_TIMEOUT, "took too long", "execution"));

    private static final String TYPE = """
            {"name":"data","memory_limit_bytes":1073741824,"cpu_limit":2.0,"timeout":60,"max_timeout":120,\
            "pids_limit":100,"network_enabled":true,"environment":{"A":"1","B":"two"},"executor":"bwrap",\
            "max_output_bytes":1024,"tmp_size_bytes":33554432,"python_version":"3.11","requirements":\
            ["pandas>=2","numpy"],"shared_code":["/srv/lib"],"pool_size":3,"pool_refill_concurrency":2,\
            "pool_idle_ttl":60}""";
    private static final JobType TYPE_VALUE = new JobType("data", 1L << 30, 2.0, 60, 120, 100, true,
            Map.of("A", "1", "B", "two"), "bwrap", 1024, 32L << 20,
            new PackageSpec("3.11", List.of("pandas>=2", "numpy"), List.of("/srv/lib")), new WarmPoolSpec(3, 2, 60));

    private static final String DEFAULT_TYPE = """
            {"name":"default","memory_limit_bytes":536870912,"cpu_limit":1.0,"timeout":30,"max_timeout":300,\
            "pids_limit":64,"network_enabled":false,"environment":{},"executor":null,"max_output_bytes":65536,\
            "tmp_size_bytes":67108864,"python_version":null,"requirements":[],"shared_code":[],"pool_size":null,\
            "pool_refill_concurrency":1,"pool_idle_ttl":600}""";

    @Test
    void specsReadBackAndAreWrittenAsBefore() {
        assertThat(JobSpecJson.fromTree(json.readTree(SPEC))).isEqualTo(SPEC_VALUE);
        assertThat(json.writeValueAsString(JobSpecJson.toTree(SPEC_VALUE))).isEqualTo(SPEC);
        assertThat(JobSpecJson.fromTree(json.readTree(MINIMAL_SPEC))).isEqualTo(JobSpec.python("print(2)"));
        assertThat(json.writeValueAsString(JobSpecJson.toTree(JobSpec.python("print(2)")))).isEqualTo(MINIMAL_SPEC);
    }

    @Test
    void resultsReadBackAndAreWrittenAsBefore() {
        assertThat(JobResultJson.fromTree(json.readTree(RESULT))).isEqualTo(RESULT_VALUE);
        assertThat(json.writeValueAsString(JobResultJson.toTree(RESULT_VALUE))).isEqualTo(RESULT);
        assertThat(JobResultJson.fromTree(json.readTree(FAILED_RESULT))).isEqualTo(FAILED_RESULT_VALUE);
        assertThat(json.writeValueAsString(JobResultJson.toTree(FAILED_RESULT_VALUE))).isEqualTo(FAILED_RESULT);
    }

    @Test
    void jobTypesReadBackAndAreWrittenAsBefore() {
        assertThat(JobTypeJson.fromTree(json.readTree(TYPE))).isEqualTo(TYPE_VALUE);
        assertThat(json.writeValueAsString(JobTypeJson.toTree(TYPE_VALUE))).isEqualTo(TYPE);
        assertThat(JobTypeJson.fromTree(json.readTree(DEFAULT_TYPE))).isEqualTo(JobType.defaults("default"));
        assertThat(json.writeValueAsString(JobTypeJson.toTree(JobType.defaults("default")))).isEqualTo(DEFAULT_TYPE);
    }

    @Test
    void aNetworkAllowListIsWrittenOnlyWhenThereIsOneAndReadBack() {
        JobType listed = TYPE_VALUE.withNetwork(dev.kiln.core.NetworkPolicy.parse(List.of("pypi.org",
                "10.1.2.0/24", "example.com:443")));
        String text = json.writeValueAsString(JobTypeJson.toTree(listed));
        assertThat(text).endsWith(",\"network\":{\"allow\":[\"pypi.org\",\"10.1.2.0/24\",\"example.com:443\"]}}");
        assertThat(JobTypeJson.fromTree(json.readTree(text))).isEqualTo(listed);
        JobType none = TYPE_VALUE.withNetwork(dev.kiln.core.NetworkPolicy.parse(List.of()));
        assertThat(JobTypeJson.fromTree(json.readTree(json.writeValueAsString(JobTypeJson.toTree(none))))).isEqualTo(none);
        String bad = text.replace("10.1.2.0/24", "10.1.2.0/99");
        assertThatThrownBy(() -> JobTypeJson.fromTree(json.readTree(bad)))
                .isInstanceOfSatisfying(JsonFieldException.class, e -> assertThat(e.field()).isEqualTo("network.allow[1]"));
    }

    @Test
    void fieldsAddedLaterDefaultWhenAbsent() {
        String specBeforeConstraints = SPEC.replace(",\"constraints\":[\"zone=a\",\"gpu exists\"]", "");
        assertThat(JobSpecJson.fromTree(json.readTree(specBeforeConstraints)).constraints()).isEmpty();

        String resultBeforeLayers = RESULT.replace("\"layer_digest\":\"" + "ef".repeat(32) + "\",", "");
        assertThat(JobResultJson.fromTree(json.readTree(resultBeforeLayers)).layerDigest()).isNull();

        String typeBeforePools = TYPE.replace(",\"pool_size\":3,\"pool_refill_concurrency\":2,\"pool_idle_ttl\":60", "");
        assertThat(typeBeforePools).doesNotContain("pool");
        assertThat(JobTypeJson.fromTree(json.readTree(typeBeforePools)).pool()).isEqualTo(WarmPoolSpec.DEFAULT);
    }
}
