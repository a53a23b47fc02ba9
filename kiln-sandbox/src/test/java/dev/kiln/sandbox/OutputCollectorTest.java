package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The read-back rules on a plain directory (what a hostile job may leave in /output). */
class OutputCollectorTest {
    @TempDir
    Path temp;
    Path output;
    Path artifacts;

    @BeforeEach
    void dirs() throws IOException {
        output = Files.createDirectory(temp.resolve("output"));
        artifacts = Files.createDirectory(temp.resolve("artifacts"));
    }

    private OutputCollector.Collected collect(OutputLimits limits) {
        return new OutputCollector(limits).collect(output, artifacts);
    }

    @Test
    void collectsRegularFilesInNameOrderWithHashes() throws IOException {
        Files.createDirectories(output.resolve("b/c"));
        Files.writeString(output.resolve("b/c/deep.txt"), "deep");
        Files.writeString(output.resolve("a.txt"), "abc");
        Files.writeString(output.resolve("result.json"), "{\"ok\": true}");

        var c = collect(OutputLimits.DEFAULTS);

        assertThat(c.limitError()).isNull();
        assertThat(c.warnings()).isEmpty();
        assertThat(c.artifacts()).extracting(CollectedArtifact::name).containsExactly("a.txt", "b/c/deep.txt", "result.json");
        CollectedArtifact a = c.artifacts().getFirst();
        assertThat(a.size()).isEqualTo(3);
        assertThat(a.sha256()).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assertThat(a.file()).isEqualTo(artifacts.resolve("a.txt")).hasContent("abc");
        assertThat(c.outputJson()).isEqualTo("{\"ok\": true}");
    }

    @Test
    void skipsLinksAndInvalidNamesWithAWarning() throws IOException {
        Path secret = Files.writeString(temp.resolve("secret"), "host secret");
        Files.createSymbolicLink(output.resolve("link"), secret);
        Files.createSymbolicLink(output.resolve("dirlink"), temp);
        Files.createSymbolicLink(output.resolve("result.json"), secret);
        Files.writeString(output.resolve(".hidden"), "x");
        Files.writeString(output.resolve("bad\nname"), "x");

        var c = collect(OutputLimits.DEFAULTS);

        assertThat(c.artifacts()).isEmpty();
        assertThat(c.outputJson()).isNull();
        assertThat(c.warnings()).containsExactlyInAnyOrder(
                "[kiln] skipped /output/link: symbolic link",
                "[kiln] skipped /output/dirlink: symbolic link",
                "[kiln] skipped /output/result.json: symbolic link",
                "[kiln] skipped /output/.hidden: invalid name",
                "[kiln] skipped /output/bad?name: invalid name");
        try (var files = Files.list(artifacts)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aFileOverTheArtifactCap() throws IOException {
        Files.write(output.resolve("big.bin"), new byte[101]);
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 10));
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
        assertThat(c.artifacts()).isEmpty();
        assertThat(artifacts.resolve("big.bin")).doesNotExist();
    }

    @Test
    void moreFilesThanAllowed() throws IOException {
        for (int i = 0; i < 4; i++) Files.writeString(output.resolve("f" + i), "x");
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 3));
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
        assertThat(c.limitMessage()).contains("more than 3 files");
        assertThat(c.artifacts()).hasSize(3);
    }

    @Test
    void moreBytesInTotalThanAllowed() throws IOException {
        for (int i = 0; i < 3; i++) Files.write(output.resolve("f" + i), new byte[80]);
        var c = collect(new OutputLimits(1, 1, 200, 100, 10));
        assertThat(c.limitError()).isEqualTo(ErrorType.OUTPUT_LIMIT);
        assertThat(c.artifacts()).hasSize(2);
    }

    @Test
    void resultJsonOverTheArtifactCapIsNotReturned() throws IOException {
        Files.writeString(output.resolve("result.json"), "[" + "1,".repeat(100) + "1]");
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 10));
        assertThat(c.outputJson()).isNull();
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
    }

    @Test
    void aHugeTreeStopsTheWalk() throws IOException {
        for (int i = 0; i <= OutputCollector.MAX_ENTRIES; i++) Files.createDirectory(output.resolve("d" + i));
        var c = collect(OutputLimits.DEFAULTS);
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
    }
}
