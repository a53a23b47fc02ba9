package dev.kiln.server.auth;

import dev.kiln.core.ApiKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first admin key of a server in {@link AuthMode#REQUIRED}: made at the first start (when the store has no live
 * admin key) and written to {@code <data-dir>/admin.key}, mode 0600, for the CLI on the same machine. Replicas
 * sharing a store make it once: the others find an admin key in the store and write none.
 */
public final class AdminKeyFile {
    public static final String FILE_NAME = "admin.key";
    private static final Logger log = LoggerFactory.getLogger(AdminKeyFile.class);

    private AdminKeyFile() {
    }

    /** Returns the file written, or null when an admin key existed already. */
    public static Path bootstrap(ApiKeys keys, Path dataDir) {
        if (keys.anyAdmin()) return null;
        Path file = dataDir.resolve(FILE_NAME);
        ApiKeys.Created created = keys.create(Caller.DEFAULT_NAMESPACE, ApiKey.Role.ADMIN, "bootstrap");
        try {
            Files.deleteIfExists(file); // a stale key of a store that was reset: it no longer works
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, created.secret() + "\n", StandardCharsets.US_ASCII, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the admin key to " + file, e);
        }
        log.info("auth.mode is required: wrote the first admin key ({}) to {} (mode 0600); `kiln` on this machine "
                + "uses it, `kiln key create` makes more", created.key().id(), file.toAbsolutePath());
        return file;
    }
}
