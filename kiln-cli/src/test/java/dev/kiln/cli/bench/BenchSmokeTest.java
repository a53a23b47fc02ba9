package dev.kiln.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The suite runs end to end on tiny sizes and every job succeeds; speed is judged by `kiln bench`, not here. */
class BenchSmokeTest {
    @TempDir
    Path dir;

    @Test
    void everyBenchProducesItsFiguresAndAChart() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
        BenchOptions quick = BenchOptions.quick();
        List<Figure> figures = new java.util.ArrayList<>();
        for (Bench b : List.of(new NoopBench(), new BacalhauBench(), new PythonBench(), new FloorBench())) {
            figures.addAll(b.run(quick));
        }
        figures = BenchReport.withRatios(figures);
        assertThat(figures).extracting(Figure::bench).contains("noop", "bacalhau", "python", "floor");
        assertThat(figures).filteredOn(f -> f.name().equals("failed jobs")).allMatch(f -> f.value() == 0);
        assertThat(figures).filteredOn(f -> f.name().equals("success")).allMatch(f -> f.value() == 100);
        assertThat(figures).anyMatch(f -> f.name().equals("jobs/s ÷ floor jobs/s") && f.value() > 0);
        Path png = dir.resolve("chart.png");
        new BenchReport(figures, "test").writeChart(png);
        assertThat(Files.readAllBytes(png)).startsWith(0x89, 'P', 'N', 'G');
    }
}
