package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobSpecValidator;
import dev.kiln.core.KilnException;
import dev.kiln.core.OutputLimits;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;

/**
 * Reads a finished job's {@code /output} back into {@code artifacts/}. Everything in there is hostile: links are
 * never followed, only regular files with valid names are taken, and the caps apply while copying. Must run only
 * once nothing of the job is alive any more, so nothing can change the tree under us.
 */
final class OutputCollector {
    static final String RESULT_JSON = "result.json";
    // Bounds the walk itself: millions of empty files or directories must not cost us a minute.
    static final int MAX_ENTRIES = 10_000;
    private static final int MAX_DEPTH = 16;

    /** What came out; {@code limitError}/{@code limitMessage} say which cap was broken (null when none). */
    record Collected(List<CollectedArtifact> artifacts, String outputJson, List<String> warnings,
                     ErrorType limitError, String limitMessage) {
    }

    private final OutputLimits limits;

    OutputCollector(OutputLimits limits) {
        this.limits = limits;
    }

    Collected collect(Path outputDir, Path artifactsDir) {
        List<Path> files = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        int[] entries = {0};
        String[] walkLimit = {null};
        try {
            Files.walkFileTree(outputDir, EnumSet.noneOf(FileVisitOption.class), MAX_DEPTH, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    if (++entries[0] > MAX_ENTRIES) return tooMany();
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (++entries[0] > MAX_ENTRIES) return tooMany();
                    String name = relativeName(outputDir, file);
                    if (attrs.isDirectory()) {
                        warnings.add(skipped(name, "deeper than " + MAX_DEPTH + " directories"));
                    } else if (!attrs.isRegularFile()) {
                        warnings.add(skipped(name, kind(attrs)));
                    } else {
                        files.add(file);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    warnings.add(skipped(relativeName(outputDir, file), "unreadable (" + e.getClass().getSimpleName() + ")"));
                    return FileVisitResult.CONTINUE;
                }

                private FileVisitResult tooMany() {
                    walkLimit[0] = "/output holds more than " + MAX_ENTRIES + " entries";
                    return FileVisitResult.TERMINATE;
                }
            });
        } catch (IOException e) {
            warnings.add("[kiln] cannot read /output: " + e.getMessage());
        }
        if (walkLimit[0] != null) return new Collected(List.of(), null, warnings, ErrorType.FILE_LIMIT, walkLimit[0]);

        files.sort((a, b) -> relativeName(outputDir, a).compareTo(relativeName(outputDir, b)));
        List<CollectedArtifact> artifacts = new ArrayList<>();
        String outputJson = null;
        long total = 0;
        for (Path file : files) {
            String name = relativeName(outputDir, file);
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
            Copy copy;
            try {
                Files.createDirectories(target.getParent());
                copy = copy(file, target, Math.min(limits.maxArtifactBytes(), remainingTotal));
            } catch (IOException e) {
                deleteQuietly(target);
                warnings.add(skipped(name, "unreadable (" + e.getClass().getSimpleName() + ")"));
                continue;
            }
            if (copy == null) {
                deleteQuietly(target);
                long size = sizeOf(file);
                if (size > limits.maxArtifactBytes()) {
                    return new Collected(artifacts, outputJson, warnings, ErrorType.FILE_LIMIT, "/output/" + name
                            + " is larger than the limit of " + limits.maxArtifactBytes() + " bytes per file");
                }
                return new Collected(artifacts, outputJson, warnings, ErrorType.OUTPUT_LIMIT,
                        "/output holds more than the limit of " + limits.maxOutputDirBytes() + " bytes in total");
            }
            total += copy.size();
            artifacts.add(new CollectedArtifact(name, copy.size(), copy.sha256(), target));
            if (name.equals(RESULT_JSON)) outputJson = readText(target);
        }
        return new Collected(artifacts, outputJson, warnings, null, null);
    }

    private record Copy(long size, String sha256) {
    }

    /** Streams at most {@code cap} bytes, hashing as it goes; null when the file holds more than {@code cap}. */
    private static Copy copy(Path source, Path target, long cap) throws IOException {
        MessageDigest sha = sha256();
        long size = 0;
        try (SeekableByteChannel in = Files.newByteChannel(source, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
             OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            int n;
            while ((n = in.read(buf)) != -1) {
                size += n;
                if (size > cap) return null;
                sha.update(buf.array(), 0, n);
                out.write(buf.array(), 0, n);
                buf.clear();
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

    private static long sizeOf(Path file) {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).size();
        } catch (IOException e) {
            return -1;
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

    private static String kind(BasicFileAttributes attrs) {
        if (attrs.isSymbolicLink()) return "symbolic link";
        return "not a regular file (device, fifo or socket)";
    }
}
