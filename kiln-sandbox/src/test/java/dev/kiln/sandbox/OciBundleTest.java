package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** The OCI bundle mounts what the bwrap sandbox mounts and nothing else of the host. */
class OciBundleTest {
    @TempDir
    Path temp;

    private OciBundle.Contents contents(Layer layer) throws IOException {
        WorkDirLayout layout = WorkDirLayout.of(temp.resolve("work"));
        layout.prepare("print(1)", null, Map.of());
        return new OciBundle.Contents(layout, List.of("/usr/bin/python3", "-u", "/code/main.py"),
                GvisorExecutor.environment(dev.kiln.core.JobType.defaults("t"), layer), 1 << 20, layer);
    }

    @Test
    @SuppressWarnings("unchecked")
    void onlyTheSandboxesMountsAndHostPathsAreThere() throws IOException {
        OciBundle.Contents c = contents(null);
        WorkDirLayout l = c.layout();
        List<Map<String, Object>> mounts = new OciBundle(temp.resolve("bundle")).mounts(c);

        Set<String> hostSources = mounts.stream().filter(m -> "bind".equals(m.get("type")))
                .map(m -> (String) m.get("source")).collect(Collectors.toSet());
        assertThat(hostSources).isSubsetOf("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc/ld.so.cache",
                "/etc/localtime", l.etc().resolve("passwd").toString(), l.etc().resolve("group").toString(),
                l.input().toString(), l.code().toString(), l.output().toString());
        assertThat(mounts).extracting(m -> m.get("destination")).contains("/proc", "/dev", "/usr", "/tmp", "/input",
                "/code", "/output", "/etc/passwd", "/etc/group").doesNotContain("/kiln/site");
        for (Map<String, Object> m : mounts) {
            if (!"bind".equals(m.get("type"))) continue;
            boolean writable = m.get("destination").equals("/output");
            assertThat((List<Object>) m.get("options")).as(m.toString()).contains(writable ? "rw" : "ro", "nosuid", "nodev");
        }
        assertThat(mounts).filteredOn(m -> m.get("destination").equals("/tmp")).singleElement()
                .satisfies(m -> assertThat((List<Object>) m.get("options")).contains("size=1048576"));
    }

    @Test
    void theProcessIsNobodyWithoutCapabilitiesOrCoreDumps() throws IOException {
        OciBundle.Contents c = contents(null);
        OciBundle bundle = new OciBundle(temp.resolve("bundle"));
        @SuppressWarnings("unchecked")
        Map<String, Object> process = (Map<String, Object>) bundle.spec(c, bundle.mounts(c)).get("process");

        assertThat(process.get("user")).isEqualTo(Map.of("uid", 65534, "gid", 65534, "additionalGids", List.of()));
        assertThat(process.get("noNewPrivileges")).isEqualTo(true);
        assertThat(((Map<?, ?>) process.get("capabilities")).values()).allMatch(v -> ((List<?>) v).isEmpty());
        assertThat(process.get("rlimits").toString()).contains("RLIMIT_CORE");
        assertThat((List<Object>) process.get("env")).contains("PYTHONPATH=/input", "HOME=/tmp");
    }

    @Test
    void writesARootfsOfMountPointsAndMergedUsrLinksAndAConfig() throws IOException {
        OciBundle bundle = new OciBundle(temp.resolve("bundle"));
        bundle.write(contents(null));

        Path rootfs = bundle.rootfs();
        assertThat(rootfs.resolve("etc/passwd")).isEmptyFile();
        assertThat(rootfs.resolve("output")).isEmptyDirectory();
        if (Files.isSymbolicLink(Path.of("/bin"))) assertThat(Files.readSymbolicLink(rootfs.resolve("bin"))).isEqualTo(Path.of("usr/bin"));
        assertThat(Files.readString(bundle.dir().resolve("config.json"))).startsWith("{\"ociVersion\":\"1.0.2\"")
                .contains("\"readonly\":true");
    }

    @Test
    void jsonEscapesWhatAJobTypeCouldPutInAString() {
        assertThat(Json.write(Map.of("k", "a\"b\\c\nd\u0001"))).isEqualTo("{\"k\":\"a\\\"b\\\\c\\nd\\u0001\"}");
        assertThat(Json.write(List.of(1, 2L, true, "x"))).isEqualTo("[1,2,true,\"x\"]");
    }
}
