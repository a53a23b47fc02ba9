package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.core.ArtifactStore;
import dev.kiln.core.CollectedArtifact;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The artifact store contract on the file system, and what only files can do (links planted, two file systems). */
class FileArtifactStoreTest extends ArtifactStoreContract {
    @TempDir
    Path dataDir;

    @Override
    protected ArtifactStore openStore() throws IOException {
        return FileArtifactStore.open(dataDir);
    }

    @Test
    void storesEachJobInADirectoryOfItsOwn() throws IOException {
        store.importArtifacts(jobId, List.of(collected(nodeDir, "old.txt", "1"), collected(nodeDir, "same.txt", "1")));
        store.importArtifacts(jobId, List.of(collected(nodeDir, "same.txt", "2")));

        assertThat(dataDir.resolve("artifacts").resolve(jobId).resolve("same.txt")).isRegularFile();
        try (var entries = Files.list(dataDir.resolve("artifacts"))) {
            assertThat(entries.map(p -> p.getFileName().toString()).toList()).containsExactly(jobId);
        }
        store.deleteAll(jobId);
        assertThat(dataDir.resolve("artifacts").resolve(jobId)).doesNotExist();
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

        store = openStore();

        assertThat(dataDir.resolve("artifacts").resolve(".import-crashed")).doesNotExist();
        assertThat(read(jobId, "kept.txt")).isEqualTo("k");
    }
}
