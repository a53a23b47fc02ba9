package dev.kiln.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln key create|list|revoke}: API keys (admins only). */
@Command(name = "key", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys (admins only).",
        subcommands = {KeyCommand.Create.class, KeyCommand.ListKeys.class, KeyCommand.Revoke.class})
final class KeyCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return 2;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a key; it is printed this once (the server keeps only its hash).")
    static final class Create extends ClientCommand {
        @Option(names = "--namespace", defaultValue = "default", description = "Namespace of the key (default: default)")
        String namespace;

        @Option(names = "--role", defaultValue = "user", paramLabel = "user|admin",
                description = "user (jobs of its namespace) or admin (everything); default user")
        String role;

        @Override
        public Integer call() {
            var k = kiln().createKey(namespace, role);
            if (json()) {
                out().println(k.toPrettyString());
            } else {
                out().println(k.path("key").asString());
                out().println("id " + k.path("id").asString() + ", namespace " + k.path("namespace").asString()
                        + ", role " + k.path("role").asString() + " (the key is not shown again)");
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List keys (never their secrets).")
    static final class ListKeys extends ClientCommand {
        @Override
        public Integer call() {
            var keys = kiln().keys();
            if (json()) {
                out().println(keys.toPrettyString());
            } else {
                out().printf("%-18s %-20s %-6s %-25s %s%n", "ID", "NAMESPACE", "ROLE", "CREATED", "REVOKED");
                keys.path("keys").forEach(k -> out().printf("%-18s %-20s %-6s %-25s %s%n", k.path("id").asString(),
                        k.path("namespace").asString(), k.path("role").asString(), k.path("created_at").asString(),
                        k.path("revoked_at").isNull() ? "-" : k.path("revoked_at").asString()));
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a key: it stops working at once.")
    static final class Revoke extends ClientCommand {
        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public Integer call() {
            kiln().revokeKey(id);
            out().println("revoked " + id);
            out().flush();
            return 0;
        }
    }
}
