package dev.kiln.cli;

import dev.kiln.client.JobResponse;
import java.io.PrintWriter;
import tools.jackson.databind.json.JsonMapper;

/** Human and JSON rendering of jobs for the CLI. */
final class JobPrinter {
    private static final JsonMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(tools.jackson.databind.PropertyNamingStrategies.SNAKE_CASE).build();

    private JobPrinter() {
    }

    static void json(PrintWriter out, Object value) {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value));
        out.flush();
    }

    static void human(PrintWriter out, JobResponse j) {
        out.printf("job %s  %s  (type %s, attempt %d)%n", j.jobId(), j.status(), j.jobType(), j.attempt());
        if (j.exitCode() != null) out.printf("exit code: %d%n", j.exitCode());
        if (j.error() != null) {
            out.printf("error: %s in %s: %s%n", j.error().type(), j.error().phase(), j.error().message());
        }
        if (j.timing() != null && j.isTerminal()) {
            out.printf("timing: queued %d ms, startup %d ms, execution %d ms%n", j.timing().queuedMs(),
                    j.timing().startupMs(), j.timing().executionMs());
        }
        if (!j.stdout().isEmpty()) {
            out.println("--- stdout" + (j.stdoutTruncated() ? " (truncated)" : "") + " ---");
            out.print(j.stdout().endsWith("\n") ? j.stdout() : j.stdout() + "\n");
        }
        if (!j.stderr().isEmpty()) {
            out.println("--- stderr" + (j.stderrTruncated() ? " (truncated)" : "") + " ---");
            out.print(j.stderr().endsWith("\n") ? j.stderr() : j.stderr() + "\n");
        }
        if (j.output() != null) out.println("output: " + j.output());
        for (JobResponse.Artifact a : j.artifacts()) {
            out.printf("artifact: %s (%d bytes, sha256 %s)%n", a.name(), a.size(), a.sha256());
        }
        out.flush();
    }
}
