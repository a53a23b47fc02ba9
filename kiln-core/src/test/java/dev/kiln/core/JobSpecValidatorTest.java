package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class JobSpecValidatorTest {
    private final JobSpecValidator validator = new JobSpecValidator(
            new RequestLimits(1000, 10, 20, 2, 5, 8));
    private final JobType type = JobType.defaults("default");

    @Test
    void acceptsAValidSpecAndUsesTheTypeTimeout() {
        assertThat(validator.validate(JobSpec.python("print(1)"), type)).isEqualTo(JobType.DEFAULT_TIMEOUT);
    }

    @Test
    void namesTheFieldAndTheLimit() {
        assertThatThrownBy(() -> validator.validate(JobSpec.python("print(12345)"), type))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(413);
                    assertThat(e.field()).isEqualTo("code");
                    assertThat(e.getMessage()).contains("limit of 10 bytes");
                });
        assertThatThrownBy(() -> validator.validate(new JobSpec("x", null, null, null, 0), type))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("timeout");
                    assertThat(e.getMessage()).contains("between 1 and 300");
                });
        assertThatThrownBy(() -> validator.validate(new JobSpec(" ", null, null, null, null), type))
                .hasMessageContaining("code");
    }

    @Test
    void rejectsEscapingAndOversizedFiles() {
        for (String bad : new String[]{"../x", "/etc/passwd", "a//b", ".hidden", "a/../b", ""}) {
            assertThatThrownBy(() -> validator.validate(
                    new JobSpec("x", null, Map.of(bad, new byte[1]), null, null), type))
                    .as(bad).isInstanceOf(KilnException.class).hasMessageContaining("files[");
        }
        assertThatThrownBy(() -> validator.validate(
                new JobSpec("x", null, Map.of("a.txt", new byte[6]), null, null), type))
                .hasMessageContaining("limit of 5 bytes");
        assertThatThrownBy(() -> validator.validate(
                new JobSpec("x", null, Map.of("a", new byte[1], "b", new byte[1], "c", new byte[1]), null, null), type))
                .hasMessageContaining("limit of 2");
        assertThat(validator.validate(new JobSpec("x", null, Map.of("pkg/mod.py", new byte[2]), null, null), type))
                .isPositive();
    }
}
