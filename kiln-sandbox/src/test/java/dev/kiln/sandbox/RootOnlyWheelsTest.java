package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A wheel directory under a root-only ({@code 0700}) parent, as {@code find_links: [/root/wheels]} or a
 * {@code mktemp -d}: Kiln copies it for the build; the build works, nothing of the source's permissions changes, and
 * the build sandbox sees neither the source path nor anything else of it. Real pip, bwrap and cgroups.
 */
class RootOnlyWheelsTest {
    @TempDir
    static Path temp;

    private static Path hidden; // 0700, root's
    private static Path wheels;
    private static Map<Path, String> before;
    private static LayerStore store;
    private static BwrapExecutor executor;

    @BeforeAll
    static void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(HostCommand.run(List.of("/usr/bin/python3", "-m", "pip", "--version"), Duration.ofSeconds(30)).ok(),
                "/usr/bin/python3 -m pip is not available");
        Path open = Files.createDirectory(temp.resolve("open"));
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        hidden = Files.createDirectory(temp.resolve("root-only"));
        wheels = Files.createDirectory(hidden.resolve("wheels"));
        TestWheels.write(wheels, "kilnpriv", "1.0", Map.of("kilnpriv/__init__.py", "SECRET_SOURCE = 'wheel'\n"), List.of());
        Files.writeString(wheels.resolve("notes.txt"), "not a wheel, but a regular file");
        Files.createSymbolicLink(wheels.resolve("linked-1.0-py3-none-any.whl"), Path.of("/etc/shadow"));
        try (Stream<Path> s = Files.list(wheels)) {
            for (Path p : s.toList()) {
                if (!Files.isSymbolicLink(p)) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
            }
        }
        Files.setPosixFilePermissions(wheels, PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(hidden, PosixFilePermissions.fromString("rwx------"));
        before = permissions();
        BwrapConfig config = BwrapConfig.defaults().withCgroupParent(SandboxTestSupport.uniqueParent());
        store = new LayerStore(open.resolve("layers"), config, PipSources.localOnly(List.of(wheels)));
        executor = new BwrapExecutor(config, store);
    }

    @AfterAll
    static void tearDown() {
        if (executor != null) executor.close();
        if (store != null) store.close();
    }

    private static Map<Path, String> permissions() throws IOException {
        Map<Path, String> m = new HashMap<>();
        for (Path p : List.of(hidden, wheels)) m.put(p, describe(p));
        try (Stream<Path> s = Files.list(wheels)) {
            for (Path p : s.toList()) m.put(p, describe(p));
        }
        return m;
    }

    private static String describe(Path p) throws IOException {
        var o = java.nio.file.LinkOption.NOFOLLOW_LINKS;
        return Files.getAttribute(p, "unix:mode", o) + " " + Files.getAttribute(p, "unix:uid", o) + ":"
                + Files.getAttribute(p, "unix:gid", o);
    }

    @Test
    void aWheelDirectoryUnderARootOnlyParentIsAPackageSourceAndStaysAsItWas() throws IOException {
        BuildOutcome built = store.build(new PackageSpec(null, List.of("kilnpriv==1.0"), List.of()), null);
        assertThat(built.success()).as(built.log()).isTrue();
        assertThat(built.log()).contains("[kiln] find-links: skipped " + wheels.resolve("linked-1.0-py3-none-any.whl")
                + " (symbolic link)");
        assertThat(permissions()).as("the source's modes and owners").isEqualTo(before);

        String code = """
                import os, kilnpriv
                print(kilnpriv.SECRET_SOURCE)
                for p in [%s, %s, "/kiln/find-links"]:
                    print(p, os.path.exists(p))
                print("source in mountinfo", %s in open("/proc/self/mountinfo").read())
                """.formatted(pyString(wheels.toString()), pyString(hidden.toString()), pyString(hidden.toString()));
        var req = new dev.kiln.core.ExecutionRequest("job-wheels-1", "job-wheels", 1, JobSpec.python(code),
                JobType.defaults("default"), 10, OutputLimits.DEFAULTS, built.digest());
        Path work = Files.createDirectory(temp.resolve("open/work"));
        ExecutionResult r = executor.execute(req, work);
        assertThat(r.status()).as(r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).startsWith("wheel\n").contains(wheels + " False\n", hidden + " False\n",
                "/kiln/find-links False\n", "source in mountinfo False\n");
    }

    @Test
    void theBuildSandboxSeesOnlyKilnsCopyNotTheSource() throws IOException {
        Path staging = store.root().resolve(".build-probe");
        LayerFiles.mkdir(staging);
        Path site = staging.resolve("site");
        LayerFiles.mkdir(site);
        try (BuildLog log = new BuildLog(staging.resolve("build.log"), null)) {
            var staged = PackageSourceStaging.stage(List.of(wheels), staging);
            LayerBuildCommand.Dirs dirs = store.sandbox().prepare(staging, site).withFindLinks(staged.dirs());
            String script = """
                    import os
                    print("listing", sorted(os.listdir("/kiln/find-links/0")))
                    for p in [%s, %s]:
                        print("source", p, os.path.exists(p))
                    mi = open("/proc/self/mountinfo").read()
                    print("source in mountinfo", %s in mi)
                    """.formatted(pyString(wheels.toString()), pyString(hidden.toString()), pyString(hidden.toString()));
            String error = store.sandbox().run(dirs, List.of("/usr/bin/python3", "-c", script), log, "probe");
            assertThat(error).as(String.join("\n", log.tail())).isNull();
            assertThat(log.tail()).contains("listing ['kilnpriv-1.0-py3-none-any.whl', 'notes.txt']",
                    "source " + wheels + " False", "source " + hidden + " False", "source in mountinfo False");
        } finally {
            LayerFiles.deleteQuietly(staging);
        }
        assertThat(permissions()).isEqualTo(before);
    }

    private static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
