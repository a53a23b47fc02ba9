package dev.kiln.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.sandbox.RunscPlatform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** `kiln bench gvisor` on tiny sizes: both executors run every job, and gVisor's figures come as ratios to bwrap's. */
class GvisorBenchSmokeTest {
    @Test
    void gvisorAndBwrapColdStartsAreMeasuredSideBySide() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
        assumeTrue(RunscPlatform.installed(RunscPlatform.DEFAULT_RUNSC), "gVisor is not installed (apt-get install -y runsc)");
        List<Figure> figures = new GvisorBench().run(BenchOptions.quick());

        assertThat(figures).extracting(Figure::name).contains("bwrap cold p50", "gvisor cold p50",
                "gvisor ÷ bwrap cold p50", "gvisor ÷ bwrap jobs/s");
        assertThat(figures).filteredOn(f -> f.name().equals("failed jobs")).singleElement()
                .satisfies(f -> assertThat(f.value()).isZero());
        assertThat(figures).filteredOn(f -> f.unit().equals("ratio")).allMatch(f -> f.value() > 0);
    }
}
