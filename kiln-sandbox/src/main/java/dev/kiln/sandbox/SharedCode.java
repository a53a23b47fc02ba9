package dev.kiln.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A package spec's shared code: host files and directories copied into a layer's {@code shared/} by their own
 * names (directories recursively). Symlinks are refused and never followed, as are devices, fifos and sockets;
 * {@code __pycache__} directories are skipped (the host's byte-code caches are not part of the code).
 */
final class SharedCode {
    static final String SKIPPED_DIR = "__pycache__";

    /** One top-level entry: {@code name} is what it is called in {@code shared/}. */
    record Entry(String name, Path source) {
    }

    private SharedCode() {
    }

    /** @throws IllegalArgumentException for a relative, missing, symlinked or special path, or two equal names */
    static List<Entry> entries(List<String> paths) {
        List<Entry> entries = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (String raw : paths) {
            if (raw == null || raw.isBlank()) throw new IllegalArgumentException("shared code path must not be blank");
            Path p = Path.of(raw);
            if (!p.isAbsolute()) throw new IllegalArgumentException("shared code path '" + raw + "' must be absolute");
            p = p.normalize();
            if (p.getFileName() == null) throw new IllegalArgumentException("shared code path '" + raw + "' names no file");
            BasicFileAttributes a = attributes(p, raw);
            if (!a.isRegularFile() && !a.isDirectory()) {
                throw new IllegalArgumentException("shared code path '" + raw + "' is neither a file nor a directory");
            }
            // an ancestor that is a symlink is the admin's own layout; only the entry and what is inside it are checked
            String name = p.getFileName().toString();
            if (!names.add(name)) {
                throw new IllegalArgumentException("shared code has two entries named '" + name + "'");
            }
            entries.add(new Entry(name, p));
        }
        return entries;
    }

    private static BasicFileAttributes attributes(Path p, String shown) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new IllegalArgumentException("shared code path '" + shown + "' does not exist or is unreadable: " + e);
        }
        if (a.isSymbolicLink()) throw new IllegalArgumentException("shared code path '" + shown + "' is a symlink");
        return a;
    }

    /** What a walk sees, in a stable order (names sorted as strings, parents before children). */
    interface Visitor {
        void directory(String relative) throws IOException;

        void file(String relative, Path file, long size) throws IOException;
    }

    static void walk(List<Entry> entries, Visitor visitor) throws IOException {
        for (Entry e : entries) walk(e.source(), e.name(), visitor);
    }

    private static void walk(Path p, String relative, Visitor visitor) throws IOException {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (a.isSymbolicLink()) throw new IllegalArgumentException("shared code contains a symlink: " + p);
        if (a.isRegularFile()) {
            visitor.file(relative, p, a.size());
        } else if (a.isDirectory()) {
            visitor.directory(relative);
            List<Path> children;
            try (Stream<Path> s = Files.list(p)) {
                children = s.sorted((x, y) -> x.getFileName().toString().compareTo(y.getFileName().toString())).toList();
            }
            for (Path c : children) {
                String name = c.getFileName().toString();
                if (name.equals(SKIPPED_DIR) && Files.isDirectory(c, LinkOption.NOFOLLOW_LINKS)) continue;
                walk(c, relative + "/" + name, visitor);
            }
        } else {
            throw new IllegalArgumentException("shared code contains a special file (not a file or directory): " + p);
        }
    }

    /** sha256 over the relative names, kinds and bytes of everything {@link #walk} sees. */
    static byte[] hash(List<Entry> entries) throws IOException {
        MessageDigest md = LayerDigest.sha256();
        walk(entries, new Visitor() {
            @Override
            public void directory(String relative) {
                LayerDigest.field(md, "dir", relative);
            }

            @Override
            public void file(String relative, Path file, long size) throws IOException {
                LayerDigest.field(md, "file", relative);
                byte[] buf = new byte[64 << 10];
                long total = 0;
                try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
                    int n;
                    while ((n = in.read(buf)) != -1) {
                        md.update(buf, 0, n);
                        total += n;
                    }
                }
                LayerDigest.field(md, "size", Long.toString(total));
            }
        });
        return md.digest();
    }

    /**
     * Copies the entries into {@code target} (which must exist): directories 0755, files 0644 (0755 when the owner
     * may execute them), owned by Kiln. Returns the entries as they are in {@code target}.
     */
    static List<Entry> copy(List<Entry> entries, Path target) throws IOException {
        walk(entries, new Visitor() {
            @Override
            public void directory(String relative) throws IOException {
                Path d = target.resolve(relative);
                Files.createDirectory(d);
                Files.setPosixFilePermissions(d, WorkDirLayout.DIR_755);
            }

            @Override
            public void file(String relative, Path file, long size) throws IOException {
                Path f = target.resolve(relative);
                // no COPY_ATTRIBUTES: the copy must be Kiln's, not owned by (and writable for) the source's owner;
                // a source swapped for a symlink meanwhile is copied as a link and refused by the check of the copy
                Files.copy(file, f, LinkOption.NOFOLLOW_LINKS);
                boolean exec = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS)
                        .contains(PosixFilePermission.OWNER_EXECUTE);
                Files.setPosixFilePermissions(f, exec ? WorkDirLayout.DIR_755 : WorkDirLayout.FILE_644);
            }
        });
        return entries.stream().map(e -> new Entry(e.name(), target.resolve(e.name()))).toList();
    }
}
