package dev.kiln.store;

import dev.kiln.core.Artifact;
import dev.kiln.core.ArtifactStore;
import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.JobSpecValidator;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * {@link ArtifactStore} on the local file system: {@code <dataDir>/artifacts/<jobId>/<name>}.
 *
 * <p>Names are relative paths checked by {@link JobSpecValidator#checkRelativePath}; no symlink is ever followed
 * below the root. An import is staged in a hidden directory and renamed into place, so a job's directory holds one
 * attempt's complete set of artifacts or none; files and directories are fsynced before the rename.
 */
public final class FileArtifactStore implements ArtifactStore {
    public static final String DIR_NAME = "artifacts";
    // Job ids never start with '.', so work directories cannot collide with a job.
    private static final String STAGING_PREFIX = ".import-";
    private static final String TRASH_PREFIX = ".trash-";

    private final Path root;

    private FileArtifactStore(Path root) {
        this.root = root;
    }

    /** Opens (creating if needed) {@code dataDir/artifacts}, removing work directories a crash left behind. */
    public static FileArtifactStore open(Path dataDir) throws IOException {
        Path root = dataDir.resolve(DIR_NAME).toAbsolutePath().normalize();
        Files.createDirectories(root);
        Fsync.directory(root.getParent());
        FileArtifactStore store = new FileArtifactStore(root);
        store.removeLeftovers();
        return store;
    }

    @Override
    public List<Artifact> importArtifacts(String jobId, List<CollectedArtifact> artifacts) throws IOException {
        Path jobDir = jobDir(ArtifactNames.requireJobId(jobId));
        ArtifactNames.requireValidAndDistinct(artifacts);
        Path staging = root.resolve(STAGING_PREFIX + UUID.randomUUID());
        Files.createDirectory(staging);
        try {
            List<Artifact> stored = new ArrayList<>();
            Set<Path> dirs = new LinkedHashSet<>();
            dirs.add(staging);
            for (CollectedArtifact a : artifacts) {
                Path target = staging.resolve(a.name());
                for (Path d = target.getParent(); !d.equals(staging); d = d.getParent()) dirs.add(d);
                Files.createDirectories(target.getParent());
                moveFile(a.file(), target);
                long size = Files.size(target);
                if (size != a.size()) {
                    throw new IOException("artifact '" + a.name() + "' has " + size + " bytes, expected " + a.size());
                }
                stored.add(a.toArtifact());
            }
            for (Path d : dirs) Fsync.directory(d);
            deleteAll(jobId); // an earlier attempt's artifacts
            Files.move(staging, jobDir, StandardCopyOption.ATOMIC_MOVE);
            Fsync.directory(root);
            return List.copyOf(stored);
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(staging);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    @Override
    public Optional<InputStream> open(String jobId, String name) throws IOException {
        if (!ArtifactNames.isJobId(jobId) || !ArtifactNames.isName(name)) return Optional.empty();
        Path file = jobDir(jobId).resolve(name).normalize();
        if (!file.startsWith(root) || !noSymlinkBelowRoot(file)) return Optional.empty();
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile()) return Optional.empty();
            // NOFOLLOW_LINKS (O_NOFOLLOW) again at open: the last component cannot have become a link meanwhile.
            return Optional.of(Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public void deleteAll(String jobId) throws IOException {
        Path jobDir = jobDir(ArtifactNames.requireJobId(jobId));
        if (!Files.exists(jobDir, LinkOption.NOFOLLOW_LINKS)) return;
        // Rename first: a crash mid-delete must not leave a half-deleted job directory that looks valid.
        Path trash = root.resolve(TRASH_PREFIX + UUID.randomUUID());
        Files.move(jobDir, trash, StandardCopyOption.ATOMIC_MOVE);
        Fsync.directory(root);
        deleteTree(trash);
    }

    private Path jobDir(String jobId) {
        return root.resolve(jobId);
    }

    /** Every component from the job directory down is a real directory or file, never a link. */
    private boolean noSymlinkBelowRoot(Path file) {
        for (Path p = file; !p.equals(root); p = p.getParent()) {
            if (Files.isSymbolicLink(p)) return false;
        }
        return true;
    }

    /** Moves within the file system atomically; across file systems copies, syncs, then deletes the source. */
    private static void moveFile(Path source, Path target) throws IOException {
        if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("collected artifact " + source + " is not a regular file");
        }
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.copy(source, target, LinkOption.NOFOLLOW_LINKS);
            Fsync.file(target);
            Files.delete(source);
            return;
        }
        Fsync.file(target); // the node may not have synced it
    }

    private void removeLeftovers() throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(root,
                p -> p.getFileName().toString().startsWith(STAGING_PREFIX)
                        || p.getFileName().toString().startsWith(TRASH_PREFIX))) {
            for (Path p : entries) deleteTree(p);
        }
    }

    /** Deletes a tree without following links: a link is removed, never what it points to. */
    private static void deleteTree(Path top) throws IOException {
        if (!Files.isDirectory(top, LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(top);
            return;
        }
        Files.walkFileTree(top, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
