package dev.kiln.node.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A node's stable id, kept in {@code <data-dir>/node-id}: the orchestrator knows a restarted node as the same node
 * (and re-queues what it no longer holds at once instead of waiting for its lease).
 */
public final class NodeIdentity {
    public static final String FILE_NAME = "node-id";
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String id;
    private final Path file;

    private NodeIdentity(String id, Path file) {
        this.id = id;
        this.file = file;
    }

    /**
     * The id in {@code dataDir}, created on first use. An {@code explicit} id (e.g. {@code --node-id}) wins and is
     * stored, so the node keeps it on later starts without the flag.
     *
     * @throws IllegalArgumentException when {@code explicit} is not a valid id
     * @throws IOException              also when the stored id is not valid (the file was edited by hand)
     */
    public static NodeIdentity load(Path dataDir, String explicit) throws IOException {
        if (explicit != null) validate(explicit);
        if (!Files.exists(dataDir)) {
            Files.createDirectories(dataDir.toAbsolutePath().getParent());
            // The node's own; WorkRoots later adds search (not listing) so sandboxes reach their bind sources.
            Files.createDirectory(dataDir,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path file = dataDir.resolve(FILE_NAME);
        String stored = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8).strip() : null;
        if (stored != null && explicit == null) {
            if (!isValid(stored)) {
                throw new IOException(file + " holds '" + stored + "', not a node id (" + VALID.pattern()
                        + "); fix or delete it");
            }
            return new NodeIdentity(stored, file);
        }
        String id = explicit != null ? explicit : "node-" + randomHex(6);
        if (!id.equals(stored)) write(file, id);
        return new NodeIdentity(id, file);
    }

    /** @throws IllegalArgumentException naming the allowed characters */
    public static void validate(String id) {
        if (!isValid(id)) {
            throw new IllegalArgumentException("node id '" + id + "' is not valid: 1 to 64 of A-Z a-z 0-9 . _ -");
        }
    }

    public static boolean isValid(String id) {
        return id != null && VALID.matcher(id).matches() && !id.equals(".") && !id.equals("..");
    }

    public String id() {
        return id;
    }

    public Path file() {
        return file;
    }

    @Override
    public String toString() {
        return id;
    }

    private static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Written aside and renamed into place, so a crash never leaves a half-written id. */
    private static void write(Path file, String id) throws IOException {
        Path tmp = file.resolveSibling("." + FILE_NAME + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, id + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
