package dev.kiln.cli;

import dev.kiln.client.JobList;
import dev.kiln.client.JobResponse;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "job", mixinStandardHelpOptions = true, description = "Inspect and cancel jobs.",
        subcommands = {JobCommand.ListJobs.class, JobCommand.GetJob.class, JobCommand.CancelJob.class,
                JobCommand.JobOutput.class, JobCommand.JobExecutions.class})
final class JobCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List jobs, newest first.")
    static final class ListJobs extends ClientCommand {
        @Option(names = "--status", description = "Only jobs in this status")
        String status;

        @Option(names = "--limit", defaultValue = "20", description = "How many (default ${DEFAULT-VALUE})")
        int limit;

        @Override
        public Integer call() {
            JobList list = kiln().list(status, limit, null);
            PrintWriter out = out();
            if (json()) {
                JobPrinter.json(out, list);
                return 0;
            }
            out.printf("%-36s  %-9s  %-12s  %-4s  %s%n", "JOB", "STATUS", "TYPE", "EXIT", "CREATED");
            for (JobResponse j : list.jobs()) {
                out.printf("%-36s  %-9s  %-12s  %-4s  %s%n", j.jobId(), j.status(), j.jobType(),
                        j.exitCode() == null ? "-" : j.exitCode(), j.createdAt());
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true, description = "Show one job.")
    static final class GetJob extends ClientCommand {
        @Parameters(index = "0", description = "Job id")
        String id;

        @Option(names = "--wait", defaultValue = "0", description = "Wait up to this many seconds for the result")
        int wait;

        @Override
        public Integer call() {
            show(kiln().get(id, wait));
            return 0;
        }
    }

    @Command(name = "output", mixinStandardHelpOptions = true,
            description = "Print a job's stdout and stderr as it runs, until it ends; exits with the job's exit code.")
    static final class JobOutput extends ClientCommand {
        @Parameters(index = "0", description = "Job id")
        String id;

        @Override
        public Integer call() {
            PrintWriter out = out();
            PrintWriter err = spec.commandLine().getErr();
            tools.jackson.databind.JsonNode end = kiln().followOutput(id, (stream, text) -> {
                PrintWriter to = stream.equals("stderr") ? err : out;
                to.print(text);
                to.flush();
            });
            String status = end.path("status").asString();
            if (!status.equals("succeeded")) err.println("job " + id + " ended " + status);
            err.flush();
            return end.path("exit_code").isInt() ? end.get("exit_code").intValue() : 1;
        }
    }

    @Command(name = "executions", mixinStandardHelpOptions = true,
            description = "List a job's attempts: node, status, timings, error.")
    static final class JobExecutions extends ClientCommand {
        @Parameters(index = "0", description = "Job id")
        String id;

        @Override
        public Integer call() {
            tools.jackson.databind.JsonNode list = kiln().executions(id);
            PrintWriter out = out();
            if (json()) {
                out.println(list.toPrettyString());
                out.flush();
                return 0;
            }
            out.printf("%-7s  %-20s  %-11s  %-24s  %-8s  %-4s  %s%n", "ATTEMPT", "NODE", "STATUS", "STARTED",
                    "TOOK", "EXIT", "ERROR");
            for (tools.jackson.databind.JsonNode e : list.path("executions")) {
                out.printf("%-7d  %-20s  %-11s  %-24s  %-8s  %-4s  %s%n", e.path("attempt").intValue(),
                        e.path("node_id").asString("-"), e.path("status").asString(),
                        e.path("started_at").asString(),
                        e.path("duration_ms").isNumber() ? e.path("duration_ms").longValue() + "ms" : "-",
                        e.path("exit_code").isInt() ? e.path("exit_code").intValue() : "-",
                        e.path("error").isObject() ? e.path("error").path("message").asString() : "");
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Cancel a queued or running job.")
    static final class CancelJob extends ClientCommand {
        @Parameters(index = "0", description = "Job id")
        String id;

        @Override
        public Integer call() {
            show(kiln().cancel(id));
            return 0;
        }
    }
}
