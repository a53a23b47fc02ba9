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
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The hostile battery on cold bwrap sandboxes (no pool). */
class BwrapColdHostileBatteryTest extends JobHostileBattery {
    @TempDir
    Path temp;

    private String parent;
    private BwrapExecutor executor;

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(parent));
    }

    @AfterEach
    void tearDown() {
        if (executor == null) return;
        assertThat(executor.cgroups().children()).as("cgroups left under " + parent).isEmpty();
        executor.close();
    }

    @Override
    protected ExecutionResult run(String python) throws IOException {
        String id = "hostile" + UUID.randomUUID().toString().substring(0, 8) + "-1";
        Path workDir = Files.createDirectory(temp.resolve(id));
        JobType type = JobType.defaults("hostile");
        return executor.execute(SandboxTestSupport.request(id, JobSpec.python(python), type, 20, OutputLimits.DEFAULTS),
                workDir);
    }
}
