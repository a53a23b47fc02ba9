package dev.kiln.bench;

import dev.kiln.core.Artifact;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.server.http.JobJson;
import dev.kiln.server.http.JobRequestParser;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import tools.jackson.databind.json.JsonMapper;

/** Parsing a request body and rendering a job response: the JSON work of every API call. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class JsonFramingBenchmark {
    private final JsonMapper json = JsonMapper.builder().build();
    private final JobRequestParser parser = new JobRequestParser(json);
    private final JobJson renderer = new JobJson(json);
    private final byte[] body = """
            {"code": "import json\\nprint(json.load(open('/input/data.json')))", "input_data": {"values": [1, 2, 3]},
             "timeout": 10, "files": {"notes.txt": "hello"}}""".getBytes(StandardCharsets.UTF_8);
    private final JobRecord done = new JobRecord("01a20611-95c0-7281-8881-7f1b05e85657", 1, JobStatus.SUCCEEDED,
            JobSpec.python("print(1+1)"), "h", null, 1, 2, 2, "local", Instant.now(), Instant.now(), Instant.now(),
            new JobResult(0, "2\n", "", false, false, "{\"x\": 1}", null, 9, 30,
                    List.of(new Artifact("result.json", 8, "ab".repeat(32))), null));

    @Benchmark
    public Object parseRequest() {
        return parser.parse(body, true);
    }

    @Benchmark
    public byte[] renderJob() {
        return json.writeValueAsBytes(renderer.render(done));
    }
}
