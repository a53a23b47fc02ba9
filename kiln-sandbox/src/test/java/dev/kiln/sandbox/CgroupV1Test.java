package dev.kiln.sandbox;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Real cgroup v1 on this host: limits, kill, stats, removal. */
class CgroupV1Test {
    private final Path root = BwrapConfig.defaults().cgroupRoot();
    private final String parent = SandboxTestSupport.uniqueParent();

    @BeforeEach
    void requireV1() {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(!Files.exists(root.resolve("cgroup.controllers")), "the host uses cgroup v2, not v1");
    }

    @Test
    void appliesLimitsKillsEverythingAndRemovesItself() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "30").start();
        try (Cgroups cgroups = CgroupDetector.detect(root, parent)) {
            assertThat(cgroups.version()).isEqualTo("v1");
            Cgroup g = cgroups.create("e1", new CgroupLimits(64L << 20, 32, 0.5));

            assertThat(read("memory/" + parent + "/e1/memory.limit_in_bytes")).isEqualTo(Long.toString(64L << 20));
            if (Files.exists(root.resolve("memory/" + parent + "/e1/memory.memsw.limit_in_bytes"))) {
                assertThat(read("memory/" + parent + "/e1/memory.memsw.limit_in_bytes")).isEqualTo(Long.toString(64L << 20));
            }
            assertThat(read("pids/" + parent + "/e1/pids.max")).isEqualTo("32");
            assertThat(read("cpu/" + parent + "/e1/cpu.cfs_period_us")).isEqualTo("100000");
            assertThat(read("cpu/" + parent + "/e1/cpu.cfs_quota_us")).isEqualTo("50000");
            assertThat(g.procsFiles()).hasSize(4);

            for (Path procs : g.procsFiles()) CgroupFiles.write(procs, Long.toString(sleeper.pid()));
            assertThat(g.isEmpty()).isFalse();
            assertThat(cgroups.children()).containsExactly("e1");

            assertThat(g.killAndAwaitEmpty(Duration.ofSeconds(5))).isTrue();
            assertThat(sleeper.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(g.stats()).isEqualTo(CgroupStats.NONE);
            g.remove();
            assertThat(cgroups.children()).isEmpty();
            assertThat(read("freezer/" + parent + "/freezer.state")).isEqualTo("THAWED");
        } finally {
            sleeper.destroyForcibly();
        }
        for (String c : new String[] {"memory", "pids", "cpu", "freezer"}) {
            assertThat(root.resolve(c).resolve(parent)).doesNotExist();
        }
    }

    @Test
    void refusesAnExistingExecutionCgroup() throws IOException {
        try (Cgroups cgroups = CgroupDetector.detect(root, parent)) {
            Cgroup g = cgroups.create("dup", new CgroupLimits(1 << 26, 8, 1));
            try {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> cgroups.create("dup", new CgroupLimits(1 << 26, 8, 1)))
                        .isInstanceOf(IOException.class);
                assertThat(cgroups.children()).containsExactly("dup");
            } finally {
                g.remove();
            }
        }
    }

    private String read(String relative) throws IOException {
        return Files.readString(root.resolve(relative)).trim();
    }
}
