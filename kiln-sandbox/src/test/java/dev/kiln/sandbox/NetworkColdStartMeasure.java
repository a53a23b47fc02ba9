package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.NetworkPolicy;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Not part of the suite (its name matches no surefire include): measures 20 interleaved cold starts each of a
 * network-off type, a network-enabled type and one with an allow list, and prints median/p90. Run with
 * {@code ./mvnw -pl kiln-sandbox -am -Dtest=NetworkColdStartMeasure -Dsurefire.failIfNoSpecifiedTests=false verify}
 * (figures in docs/security.md#network).
 */
class NetworkColdStartMeasure {
    @Test
    void measure() throws Exception {
        SandboxTestSupport.assumeSandboxUsable();
        Path temp = Files.createTempDirectory("kiln-measure");
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        try (BwrapExecutor ex = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(SandboxTestSupport.uniqueParent()))) {
            JobType off = new JobType("off", 256L << 20, 1.0, 30, 30, 64, false, Map.of(), null, 65536, 64L << 20,
                    PackageSpec.NONE, WarmPoolSpec.DEFAULT, null, null);
            JobType on = new JobType("on", 256L << 20, 1.0, 30, 30, 64, true, Map.of(), null, 65536, 64L << 20,
                    PackageSpec.NONE, WarmPoolSpec.DEFAULT, null, null);
            JobType allow = on.withNetwork(NetworkPolicy.parse(java.util.List.of("198.51.100.7:443")));
            JobType[] types = {off, on, allow};
            long[][] ms = new long[3][20];
            int n = 0;
            for (int warmup = 0; warmup < 3; warmup++) for (JobType t : types) run(ex, t, temp, n++);
            for (int i = 0; i < 20; i++) {
                for (int k = 0; k < 3; k++) {
                    long t0 = System.nanoTime();
                    run(ex, types[k], temp, n++);
                    ms[k][i] = (System.nanoTime() - t0) / 1_000_000;
                }
            }
            for (int k = 0; k < 3; k++) {
                long[] s = ms[k].clone();
                Arrays.sort(s);
                System.out.printf("MEASURE %s: median %d ms, p90 %d ms, min %d, max %d, mean %.1f%n", types[k].name()
                        + (k == 2 ? "(allow list)" : ""), s[9], s[17], s[0], s[19], Arrays.stream(s).average().orElse(0));
            }
        } finally {
            LayerFiles.deleteQuietly(temp);
        }
    }

    private static void run(BwrapExecutor ex, JobType t, Path temp, int n) throws Exception {
        Path work = Files.createDirectory(temp.resolve("w" + n));
        ExecutionResult r = ex.execute(SandboxTestSupport.request("m" + n + "-1", JobSpec.python("print(1)"), t, 20,
                OutputLimits.DEFAULTS), work);
        assertThat(r.status()).as(r.stderr() + r.error()).isEqualTo(JobStatus.SUCCEEDED);
    }
}
