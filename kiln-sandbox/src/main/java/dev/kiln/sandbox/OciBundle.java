package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The OCI bundle of one gVisor execution: an empty read-only {@code rootfs/} (mount points and merged-/usr symlinks
 * only) and a {@code config.json} that mounts exactly what the bwrap sandbox sees: read-only /usr, /code, /input,
 * the layer's /kiln/site and /kiln/shared, the generated /etc/passwd and /etc/group, writable /output, a /tmp tmpfs;
 * no other host path. uid/gid 65534, no capabilities, no new privileges, cleared environment, no core dumps.
 */
final class OciBundle {
    private static final List<String> SYSTEM_DIRS = List.of("bin", "lib", "lib64", "sbin");
    private static final List<String> HOST_ETC_FILES = List.of("/etc/ld.so.cache", "/etc/localtime");
    static final int NOFILE = 1024;

    /** What runs and what it sees; {@code layer} null: no layer. */
    record Contents(WorkDirLayout layout, List<String> args, Map<String, String> env, long tmpBytes, Layer layer) {
    }

    private final Path dir;
    private final Path hostRoot;

    OciBundle(Path dir) {
        this(dir, Path.of("/"));
    }

    /** {@code hostRoot} is only for tests of the merged-/usr detection. */
    OciBundle(Path dir, Path hostRoot) {
        this.dir = dir;
        this.hostRoot = hostRoot;
    }

    Path dir() {
        return dir;
    }

    Path rootfs() {
        return dir.resolve("rootfs");
    }

    /** Creates {@code dir} (must not exist) with its rootfs and config.json. */
    void write(Contents c) throws IOException {
        Files.createDirectories(dir.getParent());
        Files.createDirectory(dir);
        Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_700);
        List<Map<String, Object>> mounts = mounts(c);
        Path rootfs = rootfs();
        Files.createDirectory(rootfs);
        Files.setPosixFilePermissions(rootfs, WorkDirLayout.DIR_755);
        for (String d : SYSTEM_DIRS) {
            Path host = hostRoot.resolve(d);
            if (Files.isSymbolicLink(host) && isUsrLink(host, d)) Files.createSymbolicLink(rootfs.resolve(d), Path.of("usr/" + d));
        }
        for (Map<String, Object> m : mounts) createMountPoint(rootfs, (String) m.get("destination"),
                "bind".equals(m.get("type")) && Files.isRegularFile(Path.of((String) m.get("source"))));
        Files.writeString(dir.resolve("config.json"), Json.write(spec(c, mounts)), StandardCharsets.UTF_8);
    }

    private static void createMountPoint(Path rootfs, String destination, boolean file) throws IOException {
        Path p = rootfs.resolve(destination.substring(1));
        Files.createDirectories(file ? p.getParent() : p);
        if (file && !Files.exists(p)) Files.createFile(p);
    }

    Map<String, Object> spec(Contents c, List<Map<String, Object>> mounts) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("ociVersion", "1.0.2");
        Map<String, Object> process = new LinkedHashMap<>();
        process.put("terminal", false);
        process.put("user", Map.of("uid", Privileges.SANDBOX_UID, "gid", Privileges.SANDBOX_GID,
                "additionalGids", List.of()));
        process.put("args", c.args());
        process.put("env", c.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
        process.put("cwd", "/input");
        process.put("capabilities", Map.of("bounding", List.of(), "effective", List.of(), "inheritable", List.of(),
                "permitted", List.of(), "ambient", List.of()));
        process.put("noNewPrivileges", true);
        process.put("rlimits", List.of(rlimit("RLIMIT_CORE", 0), rlimit("RLIMIT_NOFILE", NOFILE)));
        spec.put("process", process);
        spec.put("root", Map.of("path", "rootfs", "readonly", true));
        spec.put("hostname", "kiln");
        spec.put("mounts", mounts);
        spec.put("linux", Map.of("namespaces", List.of(Map.of("type", "pid"), Map.of("type", "network"),
                Map.of("type", "ipc"), Map.of("type", "uts"), Map.of("type", "mount"))));
        return spec;
    }

    List<Map<String, Object>> mounts(Contents c) {
        List<Map<String, Object>> mounts = new ArrayList<>();
        mounts.add(Map.of("destination", "/proc", "type", "proc", "source", "proc"));
        mounts.add(Map.of("destination", "/dev", "type", "tmpfs", "source", "tmpfs",
                "options", List.of("nosuid", "mode=755")));
        // POSIX semaphores and shared memory (multiprocessing's locks) live here, as in bwrap's --dev
        mounts.add(Map.of("destination", "/dev/shm", "type", "tmpfs", "source", "shm",
                "options", List.of("nosuid", "nodev", "noexec", "mode=1777", "size=" + Math.max(4096, c.tmpBytes()))));
        mounts.add(readOnly("/usr", "/usr"));
        for (String d : SYSTEM_DIRS) {
            Path host = hostRoot.resolve(d);
            // merged /usr: a symlink in rootfs (see write); any other link target is a tree we have not vetted
            if (!Files.isSymbolicLink(host) && Files.isDirectory(host)) mounts.add(readOnly("/" + d, "/" + d));
        }
        for (String f : HOST_ETC_FILES) {
            if (Files.exists(hostRoot.resolve(f.substring(1)))) mounts.add(readOnly(f, f));
        }
        WorkDirLayout layout = c.layout();
        mounts.add(readOnly(layout.etc().resolve("passwd").toString(), "/etc/passwd"));
        mounts.add(readOnly(layout.etc().resolve("group").toString(), "/etc/group"));
        // gVisor's tmpfs ignores size= in older builds; its pages are the sentry's memory, inside the memory cgroup
        mounts.add(Map.of("destination", "/tmp", "type", "tmpfs", "source", "tmpfs",
                "options", List.of("nosuid", "nodev", "mode=1777", "size=" + Math.max(4096, c.tmpBytes()))));
        mounts.add(readOnly(layout.input().toString(), "/input"));
        mounts.add(readOnly(layout.code().toString(), "/code"));
        mounts.add(Map.of("destination", "/output", "type", "bind", "source", layout.output().toString(),
                "options", List.of("rbind", "rw", "nosuid", "nodev")));
        Layer layer = c.layer();
        if (layer != null) {
            mounts.add(readOnly(layer.sitePackages().toString(), BwrapCommand.LAYER_SITE));
            if (layer.sharedCode() != null) mounts.add(readOnly(layer.sharedCode().toString(), BwrapCommand.LAYER_SHARED));
        }
        return mounts;
    }

    private static Map<String, Object> readOnly(String source, String destination) {
        return Map.of("destination", destination, "type", "bind", "source", source,
                "options", List.of("rbind", "ro", "nosuid", "nodev"));
    }

    private static Map<String, Object> rlimit(String type, long value) {
        return Map.of("type", type, "hard", value, "soft", value);
    }

    private static boolean isUsrLink(Path link, String d) {
        try {
            String target = Files.readSymbolicLink(link).toString();
            return target.equals("usr/" + d) || target.equals("/usr/" + d);
        } catch (IOException e) {
            return false;
        }
    }
}
