package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Artifact;
import dev.kiln.core.ArtifactStore;
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
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link ArtifactStore} promises. A subclass provides {@link #openStore()}: a new store instance over
 * this test's storage (another replica, or the same server restarted), initially empty.
 */
public abstract class ArtifactStoreContract {
    @TempDir
    protected Path nodeDir; // stands in for the node's collection directory
    @TempDir
    protected Path outside;

    protected ArtifactStore store;
    protected final String jobId = UUID.randomUUID().toString();

    protected abstract ArtifactStore openStore() throws IOException;

    /** Runs before each test's first store: empties storage that outlives a test. Nothing by default. */
    protected void emptyStorage() {
    }

    @BeforeEach
    void openInitialStore() throws IOException {
        emptyStorage();
        store = openStore();
    }

    protected static CollectedArtifact collected(Path dir, String name, byte[] bytes) throws IOException {
        Path file = Files.write(dir.resolve(UUID.randomUUID() + ".tmp"), bytes);
        String sha = HexFormat.of().formatHex(SpecHash.sha256().digest(bytes));
        return new CollectedArtifact(name, bytes.length, sha, file);
    }

    protected static CollectedArtifact collected(Path dir, String name, String content) throws IOException {
        return collected(dir, name, content.getBytes(StandardCharsets.UTF_8));
    }

    protected static byte[] bytes(ArtifactStore from, String job, String name) throws IOException {
        Optional<InputStream> in = from.open(job, name);
        assertThat(in).as(name).isPresent();
        try (InputStream s = in.get()) {
            return s.readAllBytes();
        }
    }

    protected String read(String job, String name) throws IOException {
        return new String(bytes(store, job, name), StandardCharsets.UTF_8);
    }

    @Test
    void importsAndOpensStoredArtifacts() throws IOException {
        CollectedArtifact a = collected(nodeDir, "result.txt", "hello ✓");
        CollectedArtifact b = collected(nodeDir, "plots/deep/chart.svg", "<svg/>");

        List<Artifact> stored = store.importArtifacts(jobId, List.of(a, b));

        assertThat(stored).containsExactly(a.toArtifact(), b.toArtifact());
        assertThat(a.file()).as("collected files are taken").doesNotExist();
        assertThat(b.file()).doesNotExist();
        assertThat(read(jobId, "result.txt")).isEqualTo("hello ✓");
        assertThat(read(jobId, "plots/deep/chart.svg")).isEqualTo("<svg/>");
        assertThat(store.open(jobId, "missing.txt")).isEmpty();
        assertThat(store.open(UUID.randomUUID().toString(), "result.txt")).isEmpty();
        assertThat(store.open(jobId, "plots")).as("a directory is not an artifact").isEmpty();
    }

    @Test
    void binaryAndEmptyContentRoundTripsAndEveryInstanceReadsIt() throws IOException {
        byte[] big = new byte[3 * (1 << 20) + 12_345]; // several of PostgresArtifactStore's chunks
        new Random(11).nextBytes(big);
        store.importArtifacts(jobId, List.of(collected(nodeDir, "big.bin", big), collected(nodeDir, "empty", new byte[0])));

        assertThat(bytes(store, jobId, "big.bin")).isEqualTo(big);
        assertThat(bytes(store, jobId, "empty")).isEmpty();
        ArtifactStore other = openStore();
        assertThat(bytes(other, jobId, "big.bin")).isEqualTo(big);
        try (InputStream in = other.open(jobId, "big.bin").orElseThrow()) {
            assertThat(in.read()).isEqualTo(big[0] & 0xff);
            byte[] rest = new byte[big.length - 1];
            int n = 0;
            for (int r; n < rest.length && (r = in.read(rest, n, Math.min(777, rest.length - n))) > 0; ) n += r;
            assertThat(n).isEqualTo(rest.length);
            assertThat(in.read()).isEqualTo(-1);
            assertThat(rest).isEqualTo(java.util.Arrays.copyOfRange(big, 1, big.length));
        }
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
    }

    @Test
    void aFailedImportKeepsTheEarlierAttemptWhole() throws IOException {
        store.importArtifacts(jobId, List.of(collected(nodeDir, "a.txt", "first")));
        CollectedArtifact good = collected(nodeDir, "a.txt", "second");
        CollectedArtifact real = collected(nodeDir, "b.txt", "12345");
        CollectedArtifact lying = new CollectedArtifact("b.txt", 3, real.sha256(), real.file());

        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(good, lying))).isInstanceOf(IOException.class);

        assertThat(read(jobId, "a.txt")).isEqualTo("first");
        assertThat(store.open(jobId, "b.txt")).isEmpty();
    }

    @Test
    void deleteAllRemovesTheJobsArtifacts() throws IOException {
        store.importArtifacts(jobId, List.of(collected(nodeDir, "a/b.txt", "x")));
        String other = UUID.randomUUID().toString();
        store.importArtifacts(other, List.of(collected(nodeDir, "keep.txt", "y")));

        store.deleteAll(jobId);
        store.deleteAll(jobId); // nothing left: no error

        assertThat(store.open(jobId, "a/b.txt")).isEmpty();
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
        assertThat(store.open(jobId, "x")).isEmpty();
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
        CollectedArtifact shorter = new CollectedArtifact("x.txt", 3, real.sha256(), real.file());
        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(shorter))).isInstanceOf(IOException.class);
        CollectedArtifact real2 = collected(nodeDir, "y.txt", "12");
        CollectedArtifact longer = new CollectedArtifact("y.txt", 9, real2.sha256(), real2.file());
        assertThatThrownBy(() -> store.importArtifacts(jobId, List.of(longer))).isInstanceOf(IOException.class);
        assertThat(store.open(jobId, "x.txt")).isEmpty();
        assertThat(store.open(jobId, "y.txt")).isEmpty();
    }
}
