package dev.kiln.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import tools.jackson.databind.JsonNode;

@Command(name = "job-type", mixinStandardHelpOptions = true, description = "List, describe and build job types.",
        subcommands = {JobTypeCommand.ListTypes.class, JobTypeCommand.Describe.class, JobTypeCommand.Build.class})
final class JobTypeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static String shortDigest(JsonNode digest) {
        return digest == null || digest.isNull() ? "-" : digest.asString().substring(0, 12);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List job types and their build state.")
    static final class ListTypes extends ClientCommand {
        @Override
        public Integer call() {
            JsonNode types = kiln().jobTypes();
            PrintWriter out = out();
            if (json()) {
                JobPrinter.json(out, types);
                return 0;
            }
            out.printf("%-20s  %-8s  %-10s  %-12s  %-7s  %s%n", "NAME", "SOURCE", "BUILD", "LAYER", "MEMORY",
                    "REQUIREMENTS");
            for (JsonNode t : types) {
                out.printf("%-20s  %-8s  %-10s  %-12s  %-7s  %s%n", t.get("name").asString(),
                        t.get("source").asString(), t.at("/build/state").asString(),
                        shortDigest(t.at("/build/active_digest")), t.get("memory_limit").asString(),
                        String.join(" ", t.get("requirements").valueStream().map(JsonNode::asString).toList()));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show one job type.")
    static final class Describe extends ClientCommand {
        @Parameters(index = "0", description = "Job type name")
        String name;

        @Override
        public Integer call() {
            JobPrinter.json(out(), kiln().jobType(name));
            return 0;
        }
    }

    @Command(name = "build", mixinStandardHelpOptions = true,
            description = "Build a job type's layer (a no-op when it is built) and print the build log.")
    static final class Build extends ClientCommand {
        @Parameters(index = "0", description = "Job type name")
        String name;

        @Option(names = "--async", description = "Return at once; follow with `kiln job-type describe`")
        boolean async;

        @Override
        public Integer call() {
            PrintWriter out = out();
            JsonNode r;
            try {
                r = kiln().buildJobType(name, async);
            } catch (dev.kiln.client.KilnApiException e) {
                if (e.status() != 422) throw e;
                out.print(kiln().jobTypeBuildLog(name));
                out.flush();
                throw e;
            }
            if (json()) {
                JobPrinter.json(out, r);
                return 0;
            }
            if (r.has("build_log")) out.print(r.get("build_log").asString());
            out.printf("job type %s: %s, layer %s%s%n", name, r.at("/build/state").asString(),
                    r.at("/build/digest").asString("-"),
                    r.has("ran_pip") && !r.get("ran_pip").asBoolean() ? " (already built, pip not run)" : "");
            out.flush();
            return 0;
        }
    }
}
