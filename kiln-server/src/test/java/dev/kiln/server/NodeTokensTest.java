package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.KilnApiException;
import dev.kiln.client.KilnClient;
import dev.kiln.server.auth.AuthMode;
import dev.kiln.server.config.NodeSettings;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Node credentials with {@code auth.mode: required}: a node on this very machine cannot join without a token, a
 * node token admits only its own node id (bound when made, or at the first join), a revoked one admits nobody, and
 * only admins make tokens. The handshake is spoken by hand over the long-poll transport against a real server.
 */
class NodeTokensTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static TestServer kiln;
    private static KilnClient admin;

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withAuthMode(AuthMode.REQUIRED)
                .withNodes(NodeSettings.DEFAULTS.withLocalNode(false)));
        admin = kiln.client.withApiKey(Files.readString(kiln.dataDir.resolve("admin.key")).strip());
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    private static HttpResponse<String> hello(String nodeId, String token) throws Exception {
        String body = """
                {"type":"hello","protocol":2,"node_id":"%s","token":%s,"labels":{},"slots":1,
                 "executors":["noop"],"default_executor":"noop","job_types":null,"holding":[],"type_slots":{},
                 "interrupted":[]}
                """.formatted(nodeId, token == null ? "null" : "\"" + token + "\"");
        return kiln.http.send(HttpRequest.newBuilder(URI.create(kiln.server.baseUrl() + "/node-api/v1/session"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertRefused(HttpResponse<String> r, String text) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(401);
        assertThat(r.body()).contains("unauthorized").contains(text);
    }

    @Test
    void aNodeOnThisMachineNeedsATokenOnceAuthIsRequired() throws Exception {
        assertRefused(hello("n-anon", null), "a node token is needed");
        assertRefused(hello("n-anon", "kilnnode_forged"), "unknown or revoked node token");
    }

    @Test
    void aTokenAdmitsOnlyItsOwnNode() throws Exception {
        JsonNode t = admin.createNodeToken("n-bound");
        assertThat(t.path("node_id").asString()).isEqualTo("n-bound");
        String token = t.path("token").asString();
        assertRefused(hello("n-other", token), "belongs to node 'n-bound'");
        HttpResponse<String> ok = hello("n-bound", token);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(JSON.readTree(ok.body()).path("type").asString()).isEqualTo("welcome");
    }

    @Test
    void anUnboundTokenIsBoundToTheFirstNodeThatJoinsWithIt() throws Exception {
        String token = admin.createNodeToken(null).path("token").asString();
        assertThat(hello("n-first", token).statusCode()).isEqualTo(200);
        assertRefused(hello("n-second", token), "belongs to node 'n-first'");
        assertThat(admin.nodeTokens().path("tokens")).anySatisfy(x ->
                assertThat(x.path("node_id").asString()).isEqualTo("n-first"));
    }

    @Test
    void aRevokedTokenAdmitsNobodyAndOnlyAdminsMakeTokens() throws Exception {
        JsonNode t = admin.createNodeToken("n-revoked");
        admin.revokeNodeToken(t.path("id").asString());
        assertRefused(hello("n-revoked", t.path("token").asString()), "unknown or revoked node token");
        KilnClient user = kiln.client.withApiKey(admin.createKey("team-a", "user").path("key").asString());
        try {
            user.createNodeToken("n-x");
            throw new AssertionError("a user key made a node token");
        } catch (KilnApiException e) {
            assertThat(e.status()).isEqualTo(403);
        }
        assertThat(admin.nodeTokens().path("tokens").toString()).doesNotContain("kilnnode_");
    }
}
