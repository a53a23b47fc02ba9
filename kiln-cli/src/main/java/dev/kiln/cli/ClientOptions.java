package dev.kiln.cli;

import dev.kiln.client.KilnClient;
import picocli.CommandLine.Option;

/** Options shared by commands that talk to a running server. */
final class ClientOptions {
    @Option(names = "--server", defaultValue = "${env:KILN_SERVER:-http://127.0.0.1:8000}",
            description = "Kiln server URL (env KILN_SERVER; default ${DEFAULT-VALUE})")
    String server;

    @Option(names = "--json", description = "Print JSON for machines instead of human output")
    boolean json;

    KilnClient client() {
        return new KilnClient(server);
    }
}
