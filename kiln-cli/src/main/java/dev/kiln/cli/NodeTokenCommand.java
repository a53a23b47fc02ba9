package dev.kiln.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln node token create|list|revoke}: join tokens, one per node (admins only). */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Create, list and revoke node join tokens, one per node (admins only).",
        subcommands = {NodeTokenCommand.Create.class, NodeTokenCommand.ListTokens.class, NodeTokenCommand.Revoke.class})
final class NodeTokenCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return 2;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a token for one node (kiln node --node-join-token TOKEN); printed this once.")
    static final class Create extends ClientCommand {
        @Option(names = "--node-id", paramLabel = "ID",
                description = "The node it admits (default: the first node that joins with it)")
        String nodeId;

        @Override
        public Integer call() {
            var t = kiln().createNodeToken(nodeId);
            if (json()) {
                out().println(t.toPrettyString());
            } else {
                out().println(t.path("token").asString());
                out().println("id " + t.path("id").asString() + ", node " + (t.path("node_id").isNull()
                        ? "(the first to join with it)" : t.path("node_id").asString()) + " (not shown again)");
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List node tokens (never their secrets).")
    static final class ListTokens extends ClientCommand {
        @Override
        public Integer call() {
            var tokens = kiln().nodeTokens();
            if (json()) {
                out().println(tokens.toPrettyString());
            } else {
                out().printf("%-18s %-24s %-25s %s%n", "ID", "NODE", "CREATED", "REVOKED");
                tokens.path("tokens").forEach(t -> out().printf("%-18s %-24s %-25s %s%n", t.path("id").asString(),
                        t.path("node_id").isNull() ? "-" : t.path("node_id").asString(),
                        t.path("created_at").asString(),
                        t.path("revoked_at").isNull() ? "-" : t.path("revoked_at").asString()));
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke a node token: the node can no longer join with it.")
    static final class Revoke extends ClientCommand {
        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public Integer call() {
            kiln().revokeNodeToken(id);
            out().println("revoked " + id);
            out().flush();
            return 0;
        }
    }
}
