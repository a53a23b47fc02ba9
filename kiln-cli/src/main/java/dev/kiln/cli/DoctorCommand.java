package dev.kiln.cli;

import dev.kiln.sandbox.HostReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code kiln doctor}: what this host gives the sandbox, what each missing piece costs and how to get it. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Print what this host gives the sandbox (bubblewrap, cgroups, seccomp, user-mode networking, "
                + "gVisor, sandbox uids, root) and what each missing piece costs. Exit code 0 when everything the "
                + "default configuration needs is there, 1 otherwise.")
final class DoctorCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print the report as JSON")
    boolean json;

    @Option(names = "--bwrap", paramLabel = "PATH", description = "bubblewrap to check (default /usr/bin/bwrap)")
    Path bwrap;

    @Option(names = "--runsc", paramLabel = "PATH", description = "runsc to check (default /usr/bin/runsc)")
    Path runsc;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        HostReport.Paths d = HostReport.Paths.defaults();
        HostReport.Paths paths = new HostReport.Paths(bwrap != null ? bwrap : d.bwrap(), d.python(),
                runsc != null ? runsc : d.runsc(), d.cgroupRoot(), d.seccompLibraries(), d.userModeNetworking(),
                d.procStatus());
        List<HostReport.Check> checks = HostReport.inspect(paths);
        boolean ready = HostReport.defaultConfigurationReady(checks);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(toJson(checks, ready));
        } else {
            print(out, checks, ready);
        }
        out.flush();
        return ready ? 0 : 1;
    }

    private static void print(PrintWriter out, List<HostReport.Check> checks, boolean ready) {
        out.println("What this host gives the Kiln sandbox:");
        for (HostReport.Check c : checks) {
            String mark = c.ok() ? "ok     " : c.required() ? "MISSING" : "missing";
            out.printf("  %s  %-24s %s%n", mark, c.name(), c.found());
            if (!c.cost().isEmpty()) out.printf("           %-24s costs: %s%n", "", c.cost());
            if (!c.install().isEmpty()) out.printf("           %-24s fix:   %s%n", "", c.install());
        }
        out.println(ready ? "Everything the default configuration (executor bwrap) needs is there."
                : "The default configuration (executor bwrap) cannot run here: see MISSING above.");
    }

    static String toJson(List<HostReport.Check> checks, boolean ready) {
        JsonMapper mapper = JsonMapper.builder().build();
        ObjectNode root = mapper.createObjectNode();
        root.put("default_configuration_ready", ready);
        ArrayNode items = root.putArray("checks");
        for (HostReport.Check c : checks) {
            ObjectNode o = items.addObject();
            o.put("name", c.name());
            o.put("ok", c.ok());
            o.put("required", c.required());
            o.put("found", c.found());
            o.put("cost", c.cost());
            o.put("install", c.install());
        }
        return root.toPrettyString();
    }
}
