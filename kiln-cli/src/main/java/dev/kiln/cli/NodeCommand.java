package dev.kiln.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import tools.jackson.databind.JsonNode;

@Command(name = "node", mixinStandardHelpOptions = true, description = "List, describe, drain and resume nodes.",
        subcommands = {NodeCommand.ListNodes.class, NodeCommand.Describe.class, NodeCommand.Drain.class,
                NodeCommand.Resume.class})
final class NodeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List nodes.")
    static final class ListNodes extends ClientCommand {
        @Override
        public Integer call() {
            JsonNode nodes = kiln().nodes();
            PrintWriter out = out();
            if (json()) {
                JobPrinter.json(out, nodes);
                return 0;
            }
            out.printf("%-24s  %-9s  %-5s  %-9s  %s%n", "NODE", "STATUS", "FREE", "EXECUTORS", "LABELS");
            for (JsonNode n : nodes) {
                StringBuilder labels = new StringBuilder();
                n.get("labels").properties().forEach(e -> labels.append(e.getKey()).append('=')
                        .append(e.getValue().asString()).append(' '));
                out.printf("%-24s  %-9s  %-5s  %-9s  %s%n", n.get("id").asString(), n.get("status").asString(),
                        n.get("free_slots").asInt() + "/" + n.get("capacity").asInt(),
                        String.join(",", n.get("executors").valueStream().map(JsonNode::asString).toList()),
                        labels.toString().strip());
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show one node.")
    static final class Describe extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JobPrinter.json(out(), kiln().node(id));
            return 0;
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = "Let the node finish what it runs and take no new work.")
    static final class Drain extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JsonNode n = kiln().drainNode(id);
            out().println(json() ? n.toString() : "node " + id + ": " + n.get("status").asString());
            out().flush();
            return 0;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Let a drained node take work again.")
    static final class Resume extends ClientCommand {
        @Parameters(index = "0", description = "Node id")
        String id;

        @Override
        public Integer call() {
            JsonNode n = kiln().resumeNode(id);
            out().println(json() ? n.toString() : "node " + id + ": " + n.get("status").asString());
            out().flush();
            return 0;
        }
    }
}
