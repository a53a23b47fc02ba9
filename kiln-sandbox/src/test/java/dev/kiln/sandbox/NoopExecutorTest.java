package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class NoopExecutorTest {
    @TempDir
    Path workDir;

    @Test
    void succeedsAtOnceWithoutRunningAnything() {
        try (NoopExecutor noop = new NoopExecutor()) {
            ExecutionResult r = noop.execute(SandboxTestSupport.request("j1-1", "open('/output/x','w')\nraise SystemExit(3)"),
                    workDir);
            assertThat(noop.name()).isEqualTo("noop");
            assertThat(r.status()).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(r.exitCode()).isZero();
            assertThat(r.stdout()).isEmpty();
            assertThat(r.stderr()).isEmpty();
            assertThat(r.error()).isNull();
            assertThat(r.artifacts()).isEmpty();
            assertThat(r.startupMs()).isLessThan(5);
            assertThat(r.executionMs()).isLessThan(5);
            noop.cancel("j1-1");
        }
    }
}
