package dev.kiln.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Creates the data directory's parts with tight permissions before the stores open them: the database (job code,
 * input and results) and artifacts are readable by Kiln's user only. Existing files keep their permissions. With a
 * store elsewhere (PostgreSQL) neither is created: the directory then holds only work files.
 */
final class DataDirectory {
    private DataDirectory() {
    }

    static void prepare(Path dataDir, boolean storeInside) throws IOException {
        if (!Files.exists(dataDir)) {
            Files.createDirectories(dataDir);
            Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx--x--x"));
        }
        if (!storeInside) return;
        Path db = dataDir.resolve(dev.kiln.store.SqliteJobStore.DB_FILE_NAME);
        if (!Files.exists(db)) {
            // SQLite accepts an empty file as an empty database, and gives -wal/-shm the same mode.
            Files.createFile(db, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        Path artifacts = dataDir.resolve(dev.kiln.store.FileArtifactStore.DIR_NAME);
        if (!Files.exists(artifacts)) {
            Files.createDirectory(artifacts,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }
}
