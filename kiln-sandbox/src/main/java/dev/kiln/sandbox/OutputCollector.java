package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobSpecValidator;
import dev.kiln.core.KilnException;
import dev.kiln.core.OutputLimits;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads a finished job's {@code /output} back into {@code artifacts/}. Everything in there is hostile: the tree is
 * walked and read only through file descriptors ({@link BeneathDir}: openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, so a link on any component of a path, not only the last, refuses
 * the open), only regular files (fstat on the open descriptor) with valid names are taken, contents are read from
 * the descriptor that was checked, and the caps apply while copying. Runs once nothing of the job is alive any more;
 * the descriptor walk holds even if something could still change the tree.
 */
final class OutputCollector {
    static final String RESULT_JSON = "result.json";
    // Bounds the walk itself: millions of empty files or directories must not cost us a minute.
    static final int MAX_ENTRIES = 10_000;
    private static final int MAX_DEPTH = 16;
    private static final int ELOOP = 40;
    private static final int EXDEV = 18;
    private static final int ENOTDIR = 20;

    /** What came out; {@code limitError}/{@code limitMessage} say which cap was broken (null when none). */
    record Collected(List<CollectedArtifact> artifacts, String outputJson, List<String> warnings,
                     ErrorType limitError, String limitMessage) {
    }

    private final OutputLimits limits;
    private final Consumer<String> beforeOpen;

    OutputCollector(OutputLimits limits) {
        this(limits, name -> { });
    }

    /** {@code beforeOpen} sees each relative name just before it is opened (tests swap links in there). */
    OutputCollector(OutputLimits limits, Consumer<String> beforeOpen) {
        this.limits = limits;
        this.beforeOpen = beforeOpen;
    }

    Collected collect(Path outputDir, Path artifactsDir) {
        List<String> warnings = new ArrayList<>();
        List<String> files = new ArrayList<>();
        try (BeneathDir root = BeneathDir.openRoot(outputDir)) {
            String tooMany = walk(root, "", 1, files, warnings, new int[]{1});
            if (tooMany != null) return new Collected(List.of(), null, warnings, ErrorType.FILE_LIMIT, tooMany);
            return copyAll(root, files, artifactsDir, warnings);
        } catch (IOException e) {
            warnings.add("[kiln] cannot read /output: " + e.getMessage());
            return new Collected(List.of(), null, warnings, null, null);
        }
    }

    /** Lists {@code dir} (at {@code prefix}) into {@code files}; a message when the walk went past MAX_ENTRIES. */
    private String walk(BeneathDir dir, String prefix, int depth, List<String> files, List<String> warnings,
                        int[] entries) {
        List<BeneathDir.Entry> list;
        try {
            list = dir.list();
        } catch (IOException e) {
            warnings.add(skipped(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1), "unreadable ("
                    + e.getMessage() + ")"));
            return null;
        }
        for (BeneathDir.Entry entry : list) {
            if (++entries[0] > MAX_ENTRIES) return "/output holds more than " + MAX_ENTRIES + " entries";
            String name = prefix + entry.name();
            if (entry.type() == BeneathDir.Entry.DT_REG || entry.type() == 0) { // DT_UNKNOWN: stat decides
                files.add(name);
            } else if (entry.type() != BeneathDir.Entry.DT_DIR) {
                warnings.add(skipped(name, kind(entry.type())));
            } else if (depth >= MAX_DEPTH) {
                warnings.add(skipped(name, "deeper than " + MAX_DEPTH + " directories"));
            } else {
                beforeOpen.accept(name);
                try (BeneathDir child = dir.openDir(entry.name())) {
                    String stop = walk(child, name + "/", depth + 1, files, warnings, entries);
                    if (stop != null) return stop;
                } catch (IOException e) {
                    warnings.add(skipped(name, refused(e)));
                }
            }
        }
        return null;
    }

    private Collected copyAll(BeneathDir root, List<String> files, Path artifactsDir, List<String> warnings) {
        files.sort(String::compareTo);
        List<CollectedArtifact> artifacts = new ArrayList<>();
        String outputJson = null;
        long total = 0;
        for (String name : files) {
            try {
                JobSpecValidator.checkRelativePath("artifact", name);
            } catch (KilnException e) {
                warnings.add(skipped(name, "invalid name"));
                continue;
            }
            if (artifacts.size() >= limits.maxArtifacts()) {
                return new Collected(artifacts, outputJson, warnings, ErrorType.FILE_LIMIT,
                        "/output holds more than " + limits.maxArtifacts() + " files (max_artifacts)");
            }
            Path target = artifactsDir.resolve(name);
            long remainingTotal = limits.maxOutputDirBytes() - total;
            beforeOpen.accept(name);
            Copy copy;
            try (BeneathDir.OpenFile in = root.openFile(name)) {
                BeneathDir.Stat stat = in.stat();
                if (!stat.isRegular()) {
                    warnings.add(skipped(name, "not a regular file when opened"));
                    continue;
                }
                if (stat.size() > limits.maxArtifactBytes()) {
                    return new Collected(artifacts, outputJson, warnings, ErrorType.FILE_LIMIT, "/output/" + name
                            + " is larger than the limit of " + limits.maxArtifactBytes() + " bytes per file");
                }
                Files.createDirectories(target.getParent());
                copy = copy(in, target, Math.min(limits.maxArtifactBytes(), remainingTotal));
                if (copy == null) {
                    deleteQuietly(target);
                    return new Collected(artifacts, outputJson, warnings, ErrorType.OUTPUT_LIMIT,
                            "/output holds more than the limit of " + limits.maxOutputDirBytes() + " bytes in total");
                }
            } catch (BeneathDir.NativeIOException e) {
                deleteQuietly(target);
                warnings.add(skipped(name, refused(e)));
                continue;
            } catch (IOException e) {
                deleteQuietly(target);
                warnings.add(skipped(name, "unreadable (" + e.getClass().getSimpleName() + ")"));
                continue;
            }
            total += copy.size();
            artifacts.add(new CollectedArtifact(name, copy.size(), copy.sha256(), target));
            if (name.equals(RESULT_JSON)) outputJson = readText(target);
        }
        return new Collected(artifacts, outputJson, warnings, null, null);
    }

    private static String refused(IOException e) {
        if (e instanceof BeneathDir.NativeIOException n) {
            if (n.errno() == ELOOP) return "a symbolic link on its path (refused)";
            if (n.errno() == EXDEV) return "leads outside /output (refused)";
            if (n.errno() == ENOTDIR) return "no longer a directory when opened (refused)";
            return "unreadable (errno " + n.errno() + ")";
        }
        return "unreadable (" + e.getClass().getSimpleName() + ")";
    }

    private record Copy(long size, String sha256) {
    }

    /** Streams at most {@code cap} bytes from the open file, hashing as it goes; null when it holds more. */
    private static Copy copy(BeneathDir.OpenFile in, Path target, long cap) throws IOException {
        MessageDigest sha = sha256();
        long size = 0;
        try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = in.read(buf)) != -1) {
                size += n;
                if (size > cap) return null;
                sha.update(buf, 0, n);
                out.write(buf, 0, n);
            }
        }
        return new Copy(size, HexFormat.of().formatHex(sha.digest()));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String readText(Path file) {
        try {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the caller deletes the whole work dir anyway
        }
    }

    static String relativeName(Path outputDir, Path file) {
        return outputDir.relativize(file).toString().replace('\\', '/');
    }

    /** The job chose the name: strip control characters so it cannot forge lines in stderr. */
    static String skipped(String name, String why) {
        StringBuilder safe = new StringBuilder();
        name.codePoints().limit(300).forEach(c -> safe.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return "[kiln] skipped /output/" + safe + ": " + why;
    }

    private static String kind(int dType) {
        if (dType == 10) return "symbolic link"; // DT_LNK
        return "not a regular file (device, fifo or socket)";
    }
}
