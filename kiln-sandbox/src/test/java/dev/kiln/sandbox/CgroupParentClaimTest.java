package dev.kiln.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two Kiln processes on one cgroup parent would kill each other's sandboxes: the second is refused. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CgroupParentClaimTest {

    @Test
    void anotherProcessHoldingTheParentIsRefusedWithTheFixInTheMessage() throws Exception {
        String parent = SandboxTestSupport.uniqueParent();
        Path file = CgroupParentClaim.lockFile(parent);
        // python's lockf takes the same kind of lock (fcntl) as FileChannel.tryLock
        Process holder = new ProcessBuilder("python3", "-c", "import fcntl, sys, time\n"
                + "f = open(sys.argv[1], 'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\n"
                + "time.sleep(60)", file.toString()).start();
        try {
            var out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("locked");

            assertThatThrownBy(() -> CgroupParentClaim.claim(parent))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("the cgroup parent '" + parent + "' is in use by another running Kiln")
                    .hasMessageContaining("--cgroup-parent");

            holder.destroyForcibly().waitFor();
            // the kernel dropped the dead holder's lock
            try (CgroupParentClaim claim = CgroupParentClaim.claim(parent)) {
                assertThat(Files.exists(file)).isTrue();
            }
            assertThat(Files.exists(file)).as("the last claim removes its lock file").isFalse();
        } finally {
            holder.destroyForcibly();
            Files.deleteIfExists(file);
        }
    }

    @Test
    void thePartsOfOneProcessShareTheClaimUntilTheLastCloses() {
        String parent = SandboxTestSupport.uniqueParent();
        Path file = CgroupParentClaim.lockFile(parent);
        CgroupParentClaim executor = CgroupParentClaim.claim(parent);
        CgroupParentClaim layers = CgroupParentClaim.claim(parent);
        executor.close();
        executor.close(); // twice is once
        assertThat(Files.exists(file)).as("still held by the layer store").isTrue();
        layers.close();
        assertThat(Files.exists(file)).isFalse();
    }
}
