package dev.kiln.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kiln gc --older-than 7d}: what retention does hourly, at once. */
@Command(name = "gc", mixinStandardHelpOptions = true,
        description = "Delete finished jobs older than an age now, with their executions, outputs, artifacts and "
                + "idempotency keys (jobs that have not ended are never touched).")
final class GcCommand extends ClientCommand {
    @Option(names = "--older-than", required = true, paramLabel = "AGE",
            description = "Age of the finished jobs to delete: 7d, 12h, 30m, 90s")
    String olderThan;

    @Override
    public Integer call() {
        var r = kiln().gc(olderThan);
        if (json()) {
            out().println(r.toPrettyString());
        } else {
            out().println("deleted " + r.path("deleted_jobs").asLong() + " finished job(s) older than "
                    + r.path("older_than").asString());
        }
        out().flush();
        return 0;
    }
}
