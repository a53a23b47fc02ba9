package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;

/** File-system chores of the layer store: permissions, durability, deletion without following symlinks. */
final class LayerFiles {
    private static final Logger log = LoggerFactory.getLogger(LayerFiles.class);

    private LayerFiles() {
    }

    /** A 0755 directory (the umask must not decide). */
    static void mkdir(Path dir) throws IOException {
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_755);
    }

    /** The nearest ancestor of {@code dir} (itself included) others cannot search, or null. */
    static Path firstUntraversable(Path dir) {
        try {
            for (Path p = dir.toRealPath(); p != null; p = p.getParent()) {
                if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) return p;
            }
        } catch (IOException e) {
            return dir;
        }
        return null;
    }

    /** Flushes the staging tree to disk: one syncfs ({@code sync -f}), else an fsync of every file and directory. */
    static void makeDurable(Path dir) throws IOException {
        for (String sync : List.of("/usr/bin/sync", "/bin/sync")) {
            if (Files.isExecutable(Path.of(sync))) {
                if (HostCommand.run(List.of(sync, "-f", dir.toString()), Duration.ofMinutes(2)).ok()) return;
                break;
            }
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) {
                    try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ)) {
                        c.force(true);
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                fsyncDirectory(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        } catch (IOException e) {
            log.debug("fsync of directory {} failed: {}", dir, e.toString());
        }
    }

    /** Deletes a file or tree without following symlinks; logs what it cannot delete. */
    static void deleteQuietly(Path p) {
        try {
            FileTrees.deleteRecursively(p);
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", p, e.toString());
        }
    }

}
