package dev.kiln.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An execution's v2 cgroup against the real kernel: placing a process tree, killing it with cgroup.kill, seeing it
 * empty and removing the directory. Runs on any cgroup2 mount, also one without controllers (a hybrid host like this
 * one, whose memory and pids controllers are bound to v1), so the limits themselves stay with {@link CgroupV2Test}'s
 * fake tree; what the kernel decides (who is in the cgroup, whether it is empty, whether rmdir succeeds) is real.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CgroupV2KernelTest {
    private Path parent;

    @BeforeEach
    void createParent() throws IOException {
        Path mount = cgroup2Mount();
        assumeTrue(mount != null, "no cgroup2 hierarchy mounted on this host");
        assumeTrue(Privileges.isRoot(), "creating cgroups needs root (or a delegated subtree)");
        parent = Files.createDirectory(mount.resolve("kiln-v2test-" + UUID.randomUUID().toString().substring(0, 8)));
    }

    @AfterEach
    void removeParent() throws IOException {
        if (parent == null) return;
        try (var children = Files.list(parent)) {
            for (Path child : children.filter(Files::isDirectory).toList()) {
                CgroupV2.Group g = new CgroupV2.Group(child);
                g.killAndAwaitEmpty(Duration.ofSeconds(5));
                g.remove();
            }
        }
        Files.delete(parent);
    }

    /** Where cgroup2 is mounted: /sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on a hybrid one; or null. */
    private static Path cgroup2Mount() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[2].equals("cgroup2")) return Path.of(f[1]);
        }
        return null;
    }

    @Test
    void aForkingProcessTreeIsKilledWholeAndTheEmptyCgroupRemoved() throws Exception {
        Path dir = Files.createDirectory(parent.resolve("exec-1"));
        CgroupV2.Group group = new CgroupV2.Group(dir);
        assertThat(group.isEmpty()).isTrue();

        // The process joins the cgroup itself, then forks: its children are born inside it. Only the parent says
        // so (the for-else), since four writers to one pipe may interleave.
        Process tree = new ProcessBuilder("python3", "-c", """
                import os, sys, time
                open(sys.argv[1], 'w').write(str(os.getpid()))
                for _ in range(3):
                    if os.fork() == 0:
                        break
                else:
                    print('forked', flush=True)
                time.sleep(60)
                """, dir.resolve("cgroup.procs").toString()).redirectErrorStream(true).start();
        try {
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(tree.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("forked");
            awaitPids(dir, 4);
            assertThat(group.isEmpty()).isFalse();

            assertThat(group.killAndAwaitEmpty(Duration.ofSeconds(10))).isTrue();

            assertThat(tree.waitFor(10, TimeUnit.SECONDS)).as("the tree's root died with the cgroup").isTrue();
            assertThat(tree.exitValue()).isEqualTo(137); // SIGKILL
            assertThat(group.stats()).as("no memory or pids files without those controllers: zeros, no error")
                    .isEqualTo(new CgroupStats(0, 0));
            group.remove();
            assertThat(dir).doesNotExist();
        } finally {
            tree.destroyForcibly();
        }
    }

    @Test
    void aCgroupWithALiveProcessIsNotRemovedAndSaysSo() throws Exception {
        Path dir = Files.createDirectory(parent.resolve("exec-2"));
        CgroupV2.Group group = new CgroupV2.Group(dir);
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            CgroupFiles.write(dir.resolve("cgroup.procs"), Long.toString(sleeper.pid()));
            assertThat(CgroupFiles.readPids(dir.resolve("cgroup.procs"))).containsExactly(sleeper.pid());

            org.assertj.core.api.Assertions.assertThatThrownBy(group::remove).isInstanceOf(IOException.class);
            assertThat(dir).exists();

            group.signalKill();
            assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(group.killAndAwaitEmpty(Duration.ofSeconds(5))).isTrue();
        } finally {
            sleeper.destroyForcibly();
        }
    }

    private static void awaitPids(Path dir, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<Long> pids = List.of();
        while (System.nanoTime() < deadline) {
            pids = CgroupFiles.readPids(dir.resolve("cgroup.procs"));
            if (pids.size() >= n) return;
            Thread.sleep(10);
        }
        throw new AssertionError("expected " + n + " processes in " + dir + ", saw " + pids);
    }
}
