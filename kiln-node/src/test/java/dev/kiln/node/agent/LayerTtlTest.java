package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class LayerTtlTest {
    @Test
    void readsMinutesHoursAndDays() {
        assertThat(LayerTtl.parse("30m")).isEqualTo(Duration.ofMinutes(30));
        assertThat(LayerTtl.parse("12h")).isEqualTo(Duration.ofHours(12));
        assertThat(LayerTtl.parse(" 7D ")).isEqualTo(Duration.ofDays(7));
    }

    @Test
    void refusesAnythingElse() {
        for (String bad : new String[] {null, "", "7", "0m", "07d", "1.5h", "10s", "2w", "-1d", "7 d", "1234567890d"}) {
            assertThatThrownBy(() -> LayerTtl.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("must be a whole number of minutes, hours or days such as 30m, 12h or 7d, got '"
                            + bad + "'");
        }
    }

    @Test
    void isWrittenInTheLargestUnitThatDividesIt() {
        assertThat(LayerTtl.format(Duration.ofDays(7))).isEqualTo("7d");
        assertThat(LayerTtl.format(Duration.ofHours(36))).isEqualTo("36h");
        assertThat(LayerTtl.format(Duration.ofMinutes(90))).isEqualTo("90m");
    }

    @Test
    void aConfigWithoutOneKeepsLayersAWeek() {
        assertThat(NodeAgentConfig.of(java.net.URI.create("http://127.0.0.1:8000"), java.nio.file.Path.of("d"))
                .layerTtl()).isEqualTo(Duration.ofDays(7));
        assertThatThrownBy(() -> NodeAgentConfig.of(java.net.URI.create("http://127.0.0.1:8000"),
                java.nio.file.Path.of("d")).withLayerTtl(Duration.ofSeconds(30)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1");
    }
}
