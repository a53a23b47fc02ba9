package dev.kiln.bench;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobIds;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.NewJob;
import dev.kiln.core.SpecHash;
import dev.kiln.store.SqliteJobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/** A job's three durable writes (insert, claim, complete) on the SQLite store, one and many writers. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StoreWriteBenchmark {
    private Path dir;
    private SqliteJobStore store;
    private final JobSpec spec = JobSpec.python("print(1+1)");
    private final String hash = SpecHash.of(spec);
    private final JobResult result = JobResult.of(new ExecutionResult(JobStatus.SUCCEEDED, 0, "2\n", "", false,
            false, null, null, 1, 1, List.of()), List.of(), null);

    @Setup(Level.Trial)
    public void open() throws Exception {
        dir = Files.createTempDirectory("kiln-jmh-store-");
        store = SqliteJobStore.open(dir);
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        store.close();
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private void job() {
        String id = JobIds.next(Clock.systemUTC());
        store.insert(new NewJob(id, spec, hash, null, 2, Instant.now()));
        store.markRunning(id, 0, 1, "local", Instant.now());
        store.complete(id, 1, JobStatus.SUCCEEDED, result, Instant.now());
    }

    @Benchmark
    @Threads(1)
    public void jobLifecycleOneWriter() {
        job();
    }

    @Benchmark
    @Threads(16)
    public void jobLifecycleSixteenWriters() {
        job();
    }
}
