package dev.kiln.sandbox;

import dev.kiln.core.JobSpecValidator;
import dev.kiln.core.KilnException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * The host side of one sandbox, inside the caller's work dir: {@code sandbox/} (the view, a tmpfs of its own when
 * Kiln is root, see {@link OutputMount#prepareView}) holding {@code input/} (read-only {@code /input}),
 * {@code code/main.py} (read-only {@code /code}) and {@code etc/} (generated passwd and group); {@code output/}
 * (writable {@code /output}) and {@code artifacts/} (collected copies, never visible to the job).
 */
record WorkDirLayout(Path root, Path input, Path code, Path output, Path artifacts, Path etc) {
    static final Set<PosixFilePermission> DIR_755 = PosixFilePermissions.fromString("rwxr-xr-x");
    static final Set<PosixFilePermission> FILE_644 = PosixFilePermissions.fromString("rw-r--r--");
    static final Set<PosixFilePermission> DIR_700 = PosixFilePermissions.fromString("rwx------");
    // Others may traverse but not list: bwrap resolves the bind sources as uid 65534.
    static final Set<PosixFilePermission> DIR_711 = PosixFilePermissions.fromString("rwx--x--x");

    static final String VIEW = "sandbox";

    static final String PASSWD = """
            root:x:0:0:root:/root:/usr/sbin/nologin
            nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin
            """;
    static final String GROUP = """
            root:x:0:
            nogroup:x:65534:
            """;

    static WorkDirLayout of(Path workDir) {
        Path root = workDir.toAbsolutePath().normalize();
        Path view = root.resolve(VIEW);
        return new WorkDirLayout(root, view.resolve("input"), view.resolve("code"), root.resolve("output"),
                root.resolve("artifacts"), view.resolve("etc"));
    }

    /** What the sandbox binds from: input/, code/, etc/. */
    Path view() {
        return input.getParent();
    }

    /** The work dir (0711) and the empty view directory, for its tmpfs to be mounted on before {@link #prepare}. */
    void prepareView() throws IOException {
        Files.createDirectories(root);
        Files.setPosixFilePermissions(root, DIR_711);
        if (!Files.isDirectory(view(), LinkOption.NOFOLLOW_LINKS)) mkdir(view(), DIR_755);
    }

    Path mainPy() {
        return code.resolve("main.py");
    }

    /** Writes everything except the output directory, which {@link OutputMount} prepares. */
    void prepare(String code, String inputDataJson, Map<String, byte[]> files) throws IOException {
        prepareView();
        Files.setPosixFilePermissions(view(), DIR_755); // a fresh tmpfs: mode=0755 already, a plain dir: explicit
        mkdir(input, DIR_755);
        writeInputs(inputDataJson, files);
        mkdir(this.code, DIR_755);
        writeFile(mainPy(), codeBytes(code));
        writeEtc();
        mkdir(artifacts, DIR_700);
        Files.createDirectory(output);
    }

    /**
     * A warm sandbox's dirs before its job is known: empty {@code input/} and {@code code/}, {@code etc/}, the
     * {@code output/} mount point; no {@code artifacts/} (a warm run collects into its caller's work dir).
     */
    void prepareEmpty() throws IOException {
        prepareView();
        mkdir(input, DIR_755);
        mkdir(code, DIR_755);
        writeEtc();
        Files.createDirectory(output);
    }

    /** {@code files} under {@code input/}, then {@code data.json} when there is input data. */
    void writeInputs(String inputDataJson, Map<String, byte[]> files) throws IOException {
        for (var e : files.entrySet()) {
            Path target = inputFile(e.getKey());
            createDirs(target.getParent());
            writeFile(target, e.getValue());
        }
        if (inputDataJson != null) writeFile(input.resolve("data.json"), inputDataJson.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code artifacts/} alone, for a warm run's caller. */
    void prepareArtifacts() throws IOException {
        Files.createDirectories(root);
        mkdir(artifacts, DIR_700);
    }

    static byte[] codeBytes(String code) {
        return (code == null ? "" : code).getBytes(StandardCharsets.UTF_8);
    }

    private void writeEtc() throws IOException {
        mkdir(etc, DIR_755);
        writeFile(etc.resolve("passwd"), PASSWD.getBytes(StandardCharsets.US_ASCII));
        writeFile(etc.resolve("group"), GROUP.getBytes(StandardCharsets.US_ASCII));
    }

    /** Re-checks the name even though the server validated it: a bad name must not write outside input/. */
    private Path inputFile(String name) throws IOException {
        try {
            JobSpecValidator.checkRelativePath("files", name);
        } catch (KilnException e) {
            throw new IOException("invalid input file name '" + name + "': " + e.getMessage());
        }
        if (name.equals("data.json")) throw new IOException("input file name data.json is reserved for input_data");
        Path target = input.resolve(name).normalize();
        if (!target.startsWith(input)) throw new IOException("input file name escapes /input: " + name);
        return target;
    }

    private void createDirs(Path dir) throws IOException {
        if (dir.equals(input) || Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return;
        createDirs(dir.getParent());
        mkdir(dir, DIR_755);
    }

    private static void mkdir(Path dir, Set<PosixFilePermission> perms) throws IOException {
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, perms); // explicit: the umask must not decide
    }

    static void writeFile(Path file, byte[] content) throws IOException {
        Files.write(file, content);
        Files.setPosixFilePermissions(file, FILE_644);
    }

    /**
     * When the sandbox user is not Kiln's own uid, bwrap (running as 65534) must be able to traverse every
     * ancestor of the bind sources. Returns the first directory that blocks it, or null.
     */
    Path firstUntraversableAncestor() throws IOException {
        Path real = root.toRealPath();
        for (Path p = real.getParent(); p != null; p = p.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
            if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) return p;
        }
        return null;
    }
}
