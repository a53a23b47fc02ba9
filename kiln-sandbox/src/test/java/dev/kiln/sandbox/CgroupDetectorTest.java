package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Detection on fake trees shaped like the real layouts. */
class CgroupDetectorTest {
    @TempDir
    Path root;

    private void controllerDir(String name) throws IOException {
        Files.createDirectories(root.resolve(name));
        Files.writeString(root.resolve(name).resolve("cgroup.procs"), "");
    }

    @Test
    void hybridHostUsesV1AndIgnoresTheEmptyUnifiedHierarchy() throws IOException {
        for (String c : new String[] {"memory", "pids", "cpu", "freezer"}) controllerDir(c);
        Files.createDirectories(root.resolve("unified"));
        Files.writeString(root.resolve("unified/cgroup.controllers"), "\n");

        try (Cgroups cgroups = CgroupDetector.detect(root, "kiln-x")) {
            assertThat(cgroups.version()).isEqualTo("v1");
            assertThat(root.resolve("memory/kiln-x")).isDirectory();
            assertThat(root.resolve("freezer/kiln-x")).isDirectory();
            assertThat(cgroups.children()).isEmpty();
        }
        assertThat(root.resolve("memory/kiln-x")).doesNotExist();
    }

    @Test
    void unifiedRootWithMemoryAndPidsUsesV2() throws IOException {
        Files.writeString(root.resolve("cgroup.controllers"), "cpu memory pids\n");
        Files.writeString(root.resolve("cgroup.subtree_control"), "");
        Files.createDirectories(root.resolve("kiln"));
        Files.writeString(root.resolve("kiln/cgroup.subtree_control"), "");

        Cgroups cgroups = CgroupDetector.detect(root, "kiln");
        assertThat(cgroups.version()).isEqualTo("v2");
    }

    @Test
    void unifiedRootWithoutMemoryFallsBackToV1() throws IOException {
        Files.writeString(root.resolve("cgroup.controllers"), "cpu io\n");
        controllerDir("memory");
        controllerDir("pids");
        assertThat(CgroupDetector.detect(root, "kiln").version()).isEqualTo("v1");
    }

    @Test
    void nothingUsableIsAClearError() {
        assertThatThrownBy(() -> CgroupDetector.detect(root, "kiln"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("no usable cgroup hierarchy");
    }

    @Test
    void parentNamesAreSingleSafeSegments() throws IOException {
        controllerDir("memory");
        controllerDir("pids");
        assertThatThrownBy(() -> CgroupDetector.detect(root, "../escape")).isInstanceOf(IllegalArgumentException.class);
    }
}
