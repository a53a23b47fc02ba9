package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Hands a layer build its local package sources ({@code find_links}) without asking anything of their permissions:
 * Kiln (root, or whoever it runs as) copies them into the build's staging directory, which the build's uid can
 * read, and the build sandbox binds those copies read-only at {@code /kiln/find-links/<i>}. The sources stay as
 * they are (a {@code 0700} parent, root-owned files) and the sandbox never sees their host path.
 * <p>
 * What is copied: a directory's regular files at its top level (what pip's {@code --find-links DIR} looks at), or the
 * one file named; symbolic links, sub-directories and special files are skipped, never followed; names must look
 * like distribution files ({@link #NAME}); at most {@link #MAX_FILES} files, {@link #MAX_FILE_BYTES} each and
 * {@link #MAX_TOTAL_BYTES} in all (a build fails with the limit named rather than filling the disk).
 */
final class PackageSourceStaging {
    static final String DIR = "find-links";
    static final int MAX_FILES = 10_000;
    static final long MAX_FILE_BYTES = 1L << 30;
    static final long MAX_TOTAL_BYTES = 8L << 30;
    /** Wheel, sdist and the like: no leading dot, no separators, nothing a shell or pip would read as more. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0,254}");

    /** What was staged: one directory per find-links entry, and what was left out (for the build log). */
    record Staged(List<Path> dirs, List<String> skipped) {
    }

    private PackageSourceStaging() {
    }

    /**
     * Copies every entry of {@code findLinks} into {@code <staging>/find-links/<i>/} (directories 0755, files 0644,
     * owned by Kiln).
     *
     * @throws IOException when a source cannot be read or a limit is passed (the message names it)
     */
    static Staged stage(List<Path> findLinks, Path staging) throws IOException {
        Path root = staging.resolve(DIR);
        LayerFiles.mkdir(root);
        List<Path> dirs = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        long[] total = {0};
        int[] files = {0};
        for (int i = 0; i < findLinks.size(); i++) {
            Path source = findLinks.get(i);
            Path target = root.resolve(Integer.toString(i));
            LayerFiles.mkdir(target);
            BasicFileAttributes a = Files.readAttributes(source, BasicFileAttributes.class); // the configured path may be a link
            if (a.isDirectory()) {
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(source)) {
                    for (Path f : entries) copyOne(f, target, skipped, total, files);
                }
            } else {
                copyOne(source, target, skipped, total, files);
            }
            dirs.add(target);
        }
        return new Staged(dirs, skipped);
    }

    private static void copyOne(Path file, Path targetDir, List<String> skipped, long[] total, int[] files)
            throws IOException {
        String name = file.getFileName().toString();
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isRegularFile()) {
            if (!a.isDirectory()) skipped.add(file + " (" + (a.isSymbolicLink() ? "symbolic link" : "not a regular file") + ")");
            return;
        }
        if (!NAME.matcher(name).matches()) {
            skipped.add(file + " (name)");
            return;
        }
        if (++files[0] > MAX_FILES) {
            throw new IOException("the find-links sources hold more than " + MAX_FILES + " files");
        }
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
             FileChannel out = FileChannel.open(targetDir.resolve(name), StandardOpenOption.CREATE_NEW,
                     StandardOpenOption.WRITE)) {
            long size = in.size();
            if (size > MAX_FILE_BYTES) {
                throw new IOException("find-links file " + file + " is larger than " + MAX_FILE_BYTES + " bytes");
            }
            total[0] += size;
            if (total[0] > MAX_TOTAL_BYTES) {
                throw new IOException("the find-links sources hold more than " + MAX_TOTAL_BYTES + " bytes");
            }
            long done = 0;
            while (done < size) {
                long n = in.transferTo(done, size - done, out);
                if (n <= 0) break; // shrank meanwhile: what was there is what pip gets
                done += n;
            }
        }
        Files.setPosixFilePermissions(targetDir.resolve(name), WorkDirLayout.FILE_644);
    }
}
