package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Cgroup v2 paths and file formats on a fake tree (the limits need controllers this host binds to v1; what the
 * kernel decides about an execution's v2 cgroup is exercised for real by {@link CgroupV2KernelTest}).
 * The fake tree pre-creates the files the kernel would provide.
 */
class CgroupV2Test {
    @TempDir
    Path root;

    private void fakeRoot(String controllers) throws IOException {
        Files.writeString(root.resolve("cgroup.controllers"), controllers + "\n");
        Files.writeString(root.resolve("cgroup.subtree_control"), "");
        Files.createDirectories(root.resolve("kiln"));
        Files.writeString(root.resolve("kiln/cgroup.subtree_control"), "");
    }

    @Test
    void enablesControllersInTheRootAndTheParent() throws IOException {
        fakeRoot("cpuset cpu io memory hugetlb pids rdma");
        CgroupV2 v2 = new CgroupV2(root, "kiln");
        assertThat(v2.version()).isEqualTo("v2");
        assertThat(v2.parent()).isEqualTo(root.resolve("kiln"));
        // each controller is its own write; a fake file keeps the last one
        assertThat(Files.readString(root.resolve("cgroup.subtree_control"))).isEqualTo("+cpu");
        assertThat(Files.readString(root.resolve("kiln/cgroup.subtree_control"))).isEqualTo("+cpu");
    }

    @Test
    void refusesARootWithoutMemoryOrPids() throws IOException {
        fakeRoot("cpu io");
        assertThatThrownBy(() -> new CgroupV2(root, "kiln")).hasMessageContaining("lacks the memory or pids");
    }

    @Test
    void writesLimitsInTheV2Formats() throws IOException {
        Path dir = Files.createDirectories(root.resolve("kiln/e1"));
        for (String f : new String[] {"memory.max", "memory.swap.max", "pids.max", "cpu.max"}) {
            Files.writeString(dir.resolve(f), "max\n");
        }
        CgroupV2.applyLimits(dir, new CgroupLimits(64L << 20, 32, 1.5));
        assertThat(dir.resolve("memory.max")).hasContent("67108864");
        assertThat(dir.resolve("memory.swap.max")).hasContent("0");
        assertThat(dir.resolve("pids.max")).hasContent("32");
        assertThat(dir.resolve("cpu.max")).hasContent("150000 100000");

        CgroupV2.applyLimits(dir, new CgroupLimits(1, 0, 0));
        assertThat(dir.resolve("pids.max")).hasContent("max");
        assertThat(dir.resolve("cpu.max")).hasContent("max 100000");
    }

    @Test
    void limitsWithoutSwapAccountingOrCpu() throws IOException {
        Path dir = Files.createDirectories(root.resolve("kiln/e2"));
        Files.writeString(dir.resolve("memory.max"), "max\n");
        Files.writeString(dir.resolve("pids.max"), "max\n");
        CgroupV2.applyLimits(dir, new CgroupLimits(1 << 20, 8, 1.0));
        assertThat(dir.resolve("memory.swap.max")).doesNotExist();
        assertThat(dir.resolve("cpu.max")).doesNotExist();
    }

    @Test
    void readsStatsAndKillsThroughCgroupKill() throws IOException {
        Path dir = Files.createDirectories(root.resolve("kiln/e3"));
        Files.writeString(dir.resolve("memory.events"), "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
        Files.writeString(dir.resolve("pids.events"), "max 7\n");
        Files.writeString(dir.resolve("cgroup.procs"), "");
        Files.writeString(dir.resolve("cgroup.kill"), "");
        CgroupV2.Group g = new CgroupV2.Group(dir);

        assertThat(g.procsFiles()).containsExactly(dir.resolve("cgroup.procs"));
        assertThat(g.stats()).isEqualTo(new CgroupStats(1, 7));
        g.signalKill();
        assertThat(dir.resolve("cgroup.kill")).hasContent("1");
        assertThat(g.isEmpty()).isTrue();
        assertThat(g.killAndAwaitEmpty(Duration.ofMillis(100))).isTrue();
    }

    @Test
    void missingCountersReadAsZero() {
        assertThat(new CgroupV2.Group(root.resolve("gone")).stats()).isEqualTo(CgroupStats.NONE);
    }
}
