package dev.kiln.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** Forces files and directory entries to stable storage, so that what a method stored survives a power loss. */
final class Fsync {
    // Windows cannot open a directory as a channel; NTFS journals its metadata, so skipping is the best we can do.
    private static final boolean DIRECTORIES_SYNCABLE =
            !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

    private Fsync() {
    }

    static void file(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Makes the directory's entries (files created, renamed or deleted in it) durable. */
    static void directory(Path dir) throws IOException {
        if (!DIRECTORIES_SYNCABLE) return;
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
