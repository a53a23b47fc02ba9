package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.client.JobRequest;
import dev.kiln.client.KilnApiException;
import dev.kiln.client.KilnClient;
import dev.kiln.server.auth.AuthMode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * {@code auth.mode: required}: the first start writes an admin key (0600); without a key, or with a forged or revoked
 * one, the API answers 401; a user key runs jobs but may not manage keys, nodes or job types (403); an admin mints
 * and revokes keys, and a revoked key stops working at its next request.
 */
class ApiKeysTest {
    private static TestServer kiln;
    private static KilnClient admin;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withAuthMode(AuthMode.REQUIRED));
        Path file = kiln.dataDir.resolve("admin.key");
        admin = kiln.client.withApiKey(Files.readString(file).strip());
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    private static HttpResponse<String> call(String method, String path, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(kiln.server.baseUrl() + path))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (key != null) b.header("Authorization", key);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theFirstStartWritesAnAdminKeyOnlyItsOwnerCanRead() throws Exception {
        Path file = kiln.dataDir.resolve("admin.key");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(Files.readString(file).strip()).startsWith("kiln_");
        assertThat(admin.keys().path("keys")).anySatisfy(k -> {
            assertThat(k.path("role").asString()).isEqualTo("admin");
            assertThat(k.path("created_by").asString()).isEqualTo("bootstrap");
            assertThat(k.has("key")).as("never the secret again").isFalse();
        });
    }

    @Test
    void withoutAKeyOrWithAForgedOneTheApiAnswers401ButHealthIsOpen() throws Exception {
        HttpResponse<String> anonymous = call("GET", "/jobs", null);
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
        assertThat(anonymous.body()).contains("auth.mode: required");
        assertThat(call("GET", "/jobs", "Bearer kiln_forged").statusCode()).isEqualTo(401);
        assertThat(call("GET", "/jobs", "Basic dXNlcjpwYXNz").statusCode()).isEqualTo(401);
        assertThat(call("POST", "/execute", null).statusCode()).isEqualTo(401);
        assertThat(call("GET", "/health", null).statusCode()).isEqualTo(200);
        assertThatThrownBy(() -> kiln.client.submit(JobRequest.python("print(1)")))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(401));
    }

    @Test
    void aUserKeyRunsJobsButCannotManageKeysNodesOrJobTypes() {
        JsonNode created = admin.createKey("team-a", "user");
        assertThat(created.path("key").asString()).startsWith("kiln_");
        assertThat(created.path("namespace").asString()).isEqualTo("team-a");
        KilnClient user = kiln.client.withApiKey(created.path("key").asString());

        assertThat(user.execute(JobRequest.python("print(1)")).status()).isEqualTo("succeeded");
        for (Runnable forbidden : new Runnable[]{() -> user.createKey("team-a", "admin"), user::keys,
                () -> user.drainNode("local"), () -> user.putJobType("mine", Map.of("timeout", 5)),
                () -> user.gc("7d")}) {
            assertThatThrownBy(forbidden::run)
                    .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(403));
        }
        assertThat(user.nodes().size()).as("reading nodes is not managing them").isPositive();
    }

    @Test
    void aRevokedKeyStopsWorkingAtOnce() {
        JsonNode created = admin.createKey(null, null);
        assertThat(created.path("role").asString()).isEqualTo("user");
        assertThat(created.path("namespace").asString()).isEqualTo("default");
        KilnClient user = kiln.client.withApiKey(created.path("key").asString());
        assertThat(user.list(null, 1, null)).isNotNull();
        admin.revokeKey(created.path("id").asString());
        assertThatThrownBy(() -> user.list(null, 1, null))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(401));
        assertThatThrownBy(() -> admin.revokeKey(created.path("id").asString()))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(404));
    }

    @Test
    void badKeyRequestsNameTheField() {
        for (String[] bad : new String[][]{{"Team A", "user", "namespace"}, {"ok", "root", "role"}}) {
            assertThatThrownBy(() -> admin.createKey(bad[0], bad[1]))
                    .isInstanceOfSatisfying(KilnApiException.class, e -> {
                        assertThat(e.status()).isEqualTo(400);
                        assertThat(e.field()).isEqualTo(bad[2]);
                    });
        }
    }

    @Test
    void aRestartKeepsTheKeysAndWritesNoSecondAdminKey() throws Exception {
        String before = Files.readString(kiln.dataDir.resolve("admin.key"));
        kiln = kiln.restarted(); // same data directory, a new port
        admin = kiln.client.withApiKey(before.strip());
        assertThat(Files.readString(kiln.dataDir.resolve("admin.key"))).isEqualTo(before);
        assertThat(admin.keys().path("keys")).filteredOn(k -> k.path("created_by").asString().equals("bootstrap"))
                .hasSize(1);
    }
}
