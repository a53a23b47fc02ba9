package dev.kiln.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PipSourcesTest {

    @Test
    void logsNeverShowTheCredentialsOfAnIndexUrl() {
        PipSources s = new PipSources("https://ci:s3cret@pypi.example/simple", List.of("http://tok@mirror/simple",
                "https://plain.example/simple"), List.of(Path.of("/srv/wheels")), false);

        assertThat(s.toString()).doesNotContain("s3cret").doesNotContain("tok@")
                .contains("https://***@pypi.example/simple", "http://***@mirror/simple", "https://plain.example/simple",
                        "/srv/wheels");
    }

    @Test
    void pipStillGetsTheUrlsAsGiven() {
        PipSources s = new PipSources("https://ci:s3cret@pypi.example/simple", List.of(), List.of(), false);
        assertThat(s.pipArgs(List.of())).containsExactly("--index-url", "https://ci:s3cret@pypi.example/simple");
    }
}
