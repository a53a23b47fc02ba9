package dev.kiln.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/** A missing required field or a value of the wrong kind is refused, naming the field and its path. */
class StrictReadingTest {
    private final JsonMapper json = JsonMapper.builder().build();

    private ObjectNode type() {
        return JobTypeJson.toTree(JobType.defaults("default"));
    }

    @Test
    void aMissingRequiredFieldIsNamed() {
        ObjectNode t = type();
        t.remove("max_timeout");
        assertThatThrownBy(() -> JobTypeJson.fromTree(t)).isInstanceOf(JsonFieldException.class)
                .hasMessage("max_timeout: required integer");
    }

    @Test
    void aValueOfTheWrongKindIsNamed() {
        assertThatThrownBy(() -> JobTypeJson.fromTree(type().put("cpu_limit", "lots")))
                .hasMessage("cpu_limit: required number");
        assertThatThrownBy(() -> JobTypeJson.fromTree(type().put("executor", 7))).hasMessage("executor: must be a string");
        assertThatThrownBy(() -> JobTypeJson.fromTree(type().put("pool_size", "2")))
                .hasMessage("pool_size: must be an integer");
        assertThatThrownBy(() -> JobTypeJson.fromTree(type().put("memory_limit_bytes", 1.5)))
                .hasMessage("memory_limit_bytes: required integer");
        ObjectNode badEnv = type();
        badEnv.putObject("environment").put("MODE", 3);
        assertThatThrownBy(() -> JobTypeJson.fromTree(badEnv)).hasMessage("environment.MODE: required string");
    }

    @Test
    void anOutOfRangePoolIsRefusedAsAField() {
        assertThatThrownBy(() -> JobTypeJson.fromTree(type().put("pool_idle_ttl", 0)))
                .isInstanceOf(JsonFieldException.class).hasMessageContaining("pool_idle_ttl");
    }

    @Test
    void nestedFaultsNameTheirPath() {
        JsonNode spec = json.readTree("{\"files\":{\"data.bin\":\"!!\"},\"constraints\":[1]}");
        assertThatThrownBy(() -> JobSpecJson.fromTree(spec)).hasMessage("files.data.bin: not base64");

        JsonNode result = json.readTree("{\"error\":{\"type\":\"gremlins\",\"message\":\"m\",\"phase\":\"setup\"}}");
        assertThatThrownBy(() -> JobResultJson.fromTree(result)).hasMessage("error.type: unknown value 'gremlins'");

        JsonNode artifact = json.readTree("{\"artifacts\":[{\"name\":\"a\",\"size\":1},{\"name\":\"b\"}]}");
        assertThatThrownBy(() -> JobResultJson.fromTree(artifact)).hasMessage("artifacts[1].size: required integer");

        JsonNode message = json.readTree("{\"spec\":{\"timeout_seconds\":\"soon\"}}");
        assertThatThrownBy(() -> JsonFields.object(message, "spec", JobSpecJson::fromTree))
                .hasMessage("spec.timeout_seconds: must be an integer")
                .satisfies(e -> assertThat(((JsonFieldException) e).field()).isEqualTo("spec.timeout_seconds"));
    }

    @Test
    void optionalFieldsMayBeNull() {
        JsonNode spec = json.readTree("{\"code\":null,\"files\":null,\"job_type\":null,\"constraints\":null}");
        assertThat(JobSpecJson.fromTree(spec)).isEqualTo(new JobSpec(null, null, null, null, null));
    }
}
