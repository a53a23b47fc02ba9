package dev.kiln.sandbox;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes pure-Python wheels (a zip with the package files and a dist-info: METADATA, WHEEL, RECORD) for tests. */
public final class TestWheels {
    private TestWheels() {
    }

    /**
     * {@code <dir>/<name>-<version>-py3-none-any.whl} holding {@code files} (path in the wheel -> content);
     * {@code requires} become {@code Requires-Dist} lines. RECORD lists every file with its sha256 and size.
     */
    public static Path write(Path dir, String name, String version, Map<String, String> files, List<String> requires)
            throws IOException {
        String distInfo = name + "-" + version + ".dist-info";
        Map<String, byte[]> entries = new LinkedHashMap<>();
        files.forEach((path, content) -> entries.put(path, content.getBytes(StandardCharsets.UTF_8)));
        StringBuilder metadata = new StringBuilder("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n");
        for (String r : requires) metadata.append("Requires-Dist: ").append(r).append('\n');
        entries.put(distInfo + "/METADATA", metadata.toString().getBytes(StandardCharsets.UTF_8));
        entries.put(distInfo + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: kiln-test\nRoot-Is-Purelib: true\n"
                + "Tag: py3-none-any\n").getBytes(StandardCharsets.UTF_8));
        StringBuilder record = new StringBuilder();
        entries.forEach((path, bytes) -> record.append(path).append(",sha256=").append(hash(bytes)).append(',')
                .append(bytes.length).append('\n'));
        record.append(distInfo).append("/RECORD,,\n");
        entries.put(distInfo + "/RECORD", record.toString().getBytes(StandardCharsets.UTF_8));

        Path wheel = dir.resolve(name + "-" + version + "-py3-none-any.whl");
        try (OutputStream out = Files.newOutputStream(wheel); ZipOutputStream zip = new ZipOutputStream(out)) {
            for (var e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        Files.setPosixFilePermissions(wheel, WorkDirLayout.FILE_644);
        return wheel;
    }

    private static String hash(byte[] bytes) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(bytes);
            return Base64.getUrlEncoder().withoutPadding().encodeToString(d);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
