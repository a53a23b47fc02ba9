package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The hostile battery on warm bwrap sandboxes: every probe runs in a sandbox spawned ahead of time and handed the
 * job through the FIFO (checked by the pool's hit counter), so the profile a warm sandbox starts with is the one the
 * job meets.
 */
class BwrapWarmHostileBatteryTest extends JobHostileBattery {
    private static final JobType TYPE = JobType.defaults("hostile-warm");

    @TempDir
    Path temp;

    private BwrapExecutor executor;

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(SandboxTestSupport.uniqueParent()), null,
                temp.resolve("warm"));
        executor.configurePool(TYPE, null, PoolSettings.of(2));
    }

    @AfterEach
    void tearDown() {
        if (executor != null) executor.close();
    }

    @Override
    protected ExecutionResult run(String python) throws IOException {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> stats().ready() >= 1);
        long hits = stats().hits();
        String id = "hostile" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        Path workDir = Files.createDirectory(temp.resolve(id));
        ExecutionResult r = executor.execute(SandboxTestSupport.request(id, JobSpec.python(python), TYPE, 20,
                OutputLimits.DEFAULTS), workDir);
        assertThat(stats().hits()).as("served by a warm sandbox").isGreaterThan(hits);
        return r;
    }

    private WarmPoolStats stats() {
        return executor.poolStats().stream().filter(s -> s.jobType().equals(TYPE.name())).findFirst().orElseThrow();
    }
}
