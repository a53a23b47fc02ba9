package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The content digest of a layer: sha256 over length-prefixed fields of everything that decides what the layer
 * holds. The format tag changes whenever the layout or this list changes, so old layers are never mistaken for new.
 */
final class LayerDigest {
    static final String FORMAT = "kiln-layer/1";
    private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");

    private LayerDigest() {
    }

    static boolean isDigest(String s) {
        return s != null && DIGEST.matcher(s).matches();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** tag, NUL, byte length, NUL, value: no two different field lists hash the same bytes. */
    static void field(MessageDigest md, String tag, String value) {
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        md.update(tag.getBytes(StandardCharsets.UTF_8));
        md.update((byte) 0);
        md.update(Integer.toString(v.length).getBytes(StandardCharsets.US_ASCII));
        md.update((byte) 0);
        md.update(v);
    }

    /**
     * @param interpreterRealPath the interpreter binary (symlinks resolved)
     * @param sharedHash          {@link SharedCode#hash} of the shared code, null when there is none
     */
    static String compute(PythonInterpreters.Interpreter interpreter, Path interpreterRealPath, String pipVersion,
                          List<String> requirements, byte[] sharedHash, PipSources sources) {
        MessageDigest md = sha256();
        field(md, "format", FORMAT);
        field(md, "python.path", interpreterRealPath.toString());
        field(md, "python.version", interpreter.version());
        field(md, "requirements", Integer.toString(requirements.size()));
        for (String r : requirements) field(md, "requirement", r);
        // pip and where it looks only matter when it runs
        if (!requirements.isEmpty()) {
            field(md, "pip.version", pipVersion);
            field(md, "pip.no-index", Boolean.toString(sources.noIndex()));
            field(md, "pip.index-url", sources.indexUrl() == null ? "" : sources.indexUrl());
            for (String url : sources.extraIndexUrls()) field(md, "pip.extra-index-url", url);
            for (Path p : sources.findLinks()) findLinks(md, p);
        }
        field(md, "shared", sharedHash == null ? "" : HexFormat.of().formatHex(sharedHash));
        return HexFormat.of().formatHex(md.digest());
    }

    /** The path, then name, size and mtime of each file in it (of itself when it is a file): what pip may pick. */
    private static void findLinks(MessageDigest md, Path p) {
        field(md, "pip.find-links", p.toString());
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (!a.isDirectory()) {
                field(md, "find-links.self", a.size() + " " + a.lastModifiedTime());
                return;
            }
            List<Path> files;
            try (Stream<Path> s = Files.list(p)) {
                files = s.sorted((x, y) -> x.getFileName().toString().compareTo(y.getFileName().toString())).toList();
            }
            for (Path f : files) {
                BasicFileAttributes fa;
                try {
                    fa = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                } catch (IOException e) {
                    continue; // vanished meanwhile
                }
                field(md, "find-links.file", f.getFileName() + " " + (fa.isDirectory() ? "dir" : fa.size()) + " "
                        + fa.lastModifiedTime());
            }
        } catch (IOException e) {
            field(md, "find-links.missing", e.getClass().getSimpleName());
        }
    }
}
