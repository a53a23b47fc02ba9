package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.core.Artifact;
import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.SpecHash;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileArtifactStoreTest {
    @TempDir
    Path dataDir;
    @TempDir
    Path nodeDir; // stands in for the node's collection directory, on the same file system
    @TempDir
    Path outside;

    private FileArtifactStore store;
    private final String jobId = UUID.randomUUID().toString();

    @BeforeEach
    void open() throws IOException {
        store = FileArtifactStore.open(dataDir);
    }

    private CollectedArtifact collected(Path dir, String name, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        Path file = Files.write(dir.resolve(UUID.randomUUID() + ".tmp"), bytes);
        String sha = HexFormat.of().formatHex(SpecHash.sha256().digest(bytes));
        return new CollectedArtifact(name, bytes.length, sha, file);
    }

    private String read(String job, String name) throws IOException {
        Optional<InputStream> in = store.open(job, name);
        assertThat(in).as(name).isPresent();
        try (InputStream s = in.get()) {
            return new String(s.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void importsByMovingAndOpensStoredArtifacts() throws IOException {
        CollectedArtifact a = collected(nodeDir, "result.txt", "hello ✓");
        CollectedArtifact b = collected(nodeDir, "plots/deep/chart.svg", "<svg/>");

        List<Artifact> stored = store.importArtifacts(jobId, List.of(a, b));

        assertThat(stored).containsExactly(a.toArtifact(), b.toArtifact());
        assertThat(a.file()).doesNotExist();
        assertThat(b.file()).doesNotExist();
        assertThat(read(jobId, "result.txt")).isEqualTo("hello ✓");
        assertThat(read(jobId, "plots/deep/chart.svg")).isEqualTo("<svg/>");
        assertThat(dataDir.resolve("artifacts").resolve(jobId).resolve("result.txt")).isRegularFile();
        assertThat(store.open(jobId, "missing.txt")).isEmpty();
        assertThat(store.open(UUID.randomUUID().toString(), "result.txt")).isEmpty();
        assertThat(store.open(jobId, "plots")).as("a directory is not an artifact").isEmpty();
    }

    @Test
    void importWithoutArtifactsYieldsNone() throws IOException {
        assertThat(store.importArtifacts(jobId, List.of())).isEmpty();
        assertThat(store.open(jobId, "x")).isEmpty();
    }

    @Test
    void reimportReplacesAnEarlierAttempt() throws IOException {
        store.importArtifacts(jobId, List.of(collected(nodeDir, "old.txt", "1"), collected(nodeDir, "same.txt", "1")));

        store.importArtifacts(jobId, List.of(collected(nodeDir, "same.txt", "2")));

        assertThat(store.open(jobId, "old.txt")).isEmpty();
        assertThat(read(jobId, "same.txt")).isEqualTo("2");
        try (var entries = Files.list(dataDir.resolve("artifacts"))) {
            assertThat(entries.map(p -> p.getFileName().toString()).toList()).containsExactly(jobId);
        }
    }

    @Test
    void deleteAllRemovesTheJobsArtifacts() throws IOException {
        store.importArtifacts(jobId, List.of(collected(nodeDir, "a/b.txt", "x")));
        String other = UUID.randomUUID().toString();
        store.importArtifacts(other, List.of(collected(nodeDir, "keep.txt", "y")));

        store.deleteAll(jobId);
        store.deleteAll(jobId); // nothing left: no error

        assertThat(store.open(jobId, "a/b.txt")).isEmpty();
        assertThat(dataDir.resolve("artifacts").resolve(jobId)).doesNotExist();
        assertThat(read(other, "keep.txt")).isEqualTo("y");
    }

    @Test
    void rejectsNamesThatEscapeOrAreAbsolute() throws IOException {
        for (String bad : List.of("../x", "/etc/passwd", "a/../../x", "a//b", ".hidden", "", "a/./b")) {
            CollectedArtifact a = collected(nodeDir, bad, "x");
            assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(a)))
                    .as(bad).isInstanceOf(IllegalArgumentException.class);
            assertThat(a.file()).as("source kept for " + bad).exists();
            assertThat(store.open(jobId, bad)).as(bad).isEmpty();
        }
        assertThat(dataDir.resolve("artifacts").resolve(jobId)).doesNotExist();
    }

    @Test
    void rejectsMalformedJobIds() throws IOException {
        CollectedArtifact a = collected(nodeDir, "x.txt", "x");
        for (String bad : List.of("..", "../etc", "abc/def", "", "xyz", "a".repeat(65))) {
            assertThatThrownBy(() -> store.importArtifacts(bad, List.of(a))).as(bad)
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.deleteAll(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
            assertThat(store.open(bad, "x.txt")).as(bad).isEmpty();
        }
    }

    @Test
    void rejectsTheSameNameTwice() throws IOException {
        CollectedArtifact a = collected(nodeDir, "x.txt", "1");
        CollectedArtifact b = collected(nodeDir, "x.txt", "2");
        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(a, b)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void symlinkPlantedAsAnArtifactIsNotFollowed() throws IOException {
        Path secret = Files.writeString(outside.resolve("secret.txt"), "top secret");
        store.importArtifacts(jobId, List.of(collected(nodeDir, "real.txt", "ok")));
        Path jobDir = dataDir.resolve("artifacts").resolve(jobId);
        Files.createSymbolicLink(jobDir.resolve("leak.txt"), secret);
        Files.createSymbolicLink(jobDir.resolve("leakdir"), outside);

        assertThat(store.open(jobId, "leak.txt")).isEmpty();
        assertThat(store.open(jobId, "leakdir/secret.txt")).isEmpty();
        assertThat(read(jobId, "real.txt")).isEqualTo("ok");

        store.deleteAll(jobId);
        assertThat(secret).hasContent("top secret");
        assertThat(outside).isDirectory();
    }

    @Test
    void symlinkPlantedAsAJobDirectoryIsNotFollowed() throws IOException {
        Path secret = Files.writeString(outside.resolve("secret.txt"), "top secret");
        String planted = UUID.randomUUID().toString();
        Files.createSymbolicLink(dataDir.resolve("artifacts").resolve(planted), outside);

        assertThat(store.open(planted, "secret.txt")).isEmpty();

        store.deleteAll(planted); // removes the link, not what it points to
        assertThat(dataDir.resolve("artifacts").resolve(planted)).doesNotExist();
        assertThat(secret).hasContent("top secret");
    }

    @Test
    void refusesASymlinkAsTheCollectedFile() throws IOException {
        Path secret = Files.writeString(outside.resolve("secret.txt"), "top secret");
        Path link = Files.createSymbolicLink(nodeDir.resolve("link"), secret);
        CollectedArtifact a = new CollectedArtifact("x.txt", 10, "00", link);

        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(a))).isInstanceOf(IOException.class);
        assertThat(store.open(jobId, "x.txt")).isEmpty();
        assertThat(secret).hasContent("top secret");
    }

    @Test
    void refusesAFileWhoseSizeDiffersFromTheCollectedSize() throws IOException {
        CollectedArtifact real = collected(nodeDir, "x.txt", "12345");
        CollectedArtifact lying = new CollectedArtifact("x.txt", 3, real.sha256(), real.file());
        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(lying))).isInstanceOf(IOException.class);
        assertThat(store.open(jobId, "x.txt")).isEmpty();
    }

    @Test
    void importsAcrossFileSystemsByCopying() throws IOException {
        Path shm = Path.of("/dev/shm");
        assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm)
                && !Files.getFileStore(shm).equals(Files.getFileStore(dataDir)), "needs a second file system");
        Path otherFs = Files.createTempDirectory(shm, "kiln-test-");
        try {
            CollectedArtifact a = collected(otherFs, "copied.txt", "across");
            store.importArtifacts(jobId, List.of(a));
            assertThat(read(jobId, "copied.txt")).isEqualTo("across");
            assertThat(a.file()).doesNotExist();
        } finally {
            try (var files = Files.list(otherFs)) {
                for (Path p : files.toList()) Files.delete(p);
            }
            Files.delete(otherFs);
        }
    }

    @Test
    void reopeningRemovesLeftoverWorkDirectories() throws IOException {
        Path leftover = Files.createDirectories(dataDir.resolve("artifacts").resolve(".import-crashed").resolve("d"));
        Files.writeString(leftover.resolve("f"), "x");
        store.importArtifacts(jobId, List.of(collected(nodeDir, "kept.txt", "k")));

        store = FileArtifactStore.open(dataDir);

        assertThat(dataDir.resolve("artifacts").resolve(".import-crashed")).doesNotExist();
        assertThat(read(jobId, "kept.txt")).isEqualTo("k");
    }
}
