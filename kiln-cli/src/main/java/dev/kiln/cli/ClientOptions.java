package dev.kiln.cli;

import dev.kiln.client.KilnClient;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Options shared by commands that talk to a running server. */
final class ClientOptions {
    @Option(names = "--server", defaultValue = "${env:KILN_SERVER:-http://127.0.0.1:8000}",
            description = "Kiln server URL (env KILN_SERVER; default ${DEFAULT-VALUE})")
    String server;

    @Option(names = "--api-key", defaultValue = "${env:KILN_API_KEY}",
            description = "API key (env KILN_API_KEY; default: the server's admin.key in KILN_DATA_DIR or "
                    + "./kiln-data when readable)")
    String apiKey;

    @Option(names = "--json", description = "Print JSON for machines instead of human output")
    boolean json;

    KilnClient client() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        return new KilnClient(server, http, apiKey != null && !apiKey.isBlank() ? apiKey.strip() : localAdminKey());
    }

    /** The admin key a server in auth.mode required wrote on this machine, when this user may read it. */
    private static String localAdminKey() {
        String dataDir = System.getenv().getOrDefault("KILN_DATA_DIR", "kiln-data");
        Path file = Path.of(dataDir).resolve("admin.key");
        try {
            return Files.isReadable(file) ? Files.readString(file).strip() : null;
        } catch (IOException e) {
            return null;
        }
    }
}
