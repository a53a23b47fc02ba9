package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.RequestLimits;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Bad input gets a 4xx naming the field and the limit, never a 5xx or a hang; the server keeps serving. */
class RequestValidationTest {
    private static final JsonMapper JSON = new JsonMapper();
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        kiln = TestServer.start("noop", c -> c.withRequestLimits(new RequestLimits(64 * 1024, 1024, 2048, 3, 512,
                1024)));
    }

    @AfterAll
    static void stop() throws Exception {
        kiln.close();
    }

    private static JsonNode json(HttpResponse<String> r) {
        return JSON.readTree(r.body());
    }

    @Test
    void oversizedBodyIs413NamingTheLimit() throws Exception {
        String big = "{\"code\": \"" + "x".repeat(70 * 1024) + "\"}";
        HttpResponse<String> r = kiln.post("/execute", big);
        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(json(r).at("/error/field").asString()).isEqualTo("body");
        assertThat(json(r).at("/detail").asString()).contains("65536");
    }

    @Test
    void oversizedCodeInputAndFilesName413AndTheField() throws Exception {
        HttpResponse<String> code = kiln.post("/execute", "{\"code\": \"" + "x".repeat(2000) + "\"}");
        assertThat(code.statusCode()).isEqualTo(413);
        assertThat(json(code).at("/error/field").asString()).isEqualTo("code");
        assertThat(json(code).at("/detail").asString()).contains("limit of 1024 bytes");

        HttpResponse<String> input = kiln.post("/execute", "{\"code\": \"1\", \"input_data\": \"" + "y".repeat(3000)
                + "\"}");
        assertThat(input.statusCode()).isEqualTo(413);
        assertThat(json(input).at("/error/field").asString()).isEqualTo("input_data");

        HttpResponse<String> files = kiln.post("/execute",
                "{\"code\": \"1\", \"files\": {\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\"}}");
        assertThat(files.statusCode()).isEqualTo(400);
        assertThat(json(files).at("/detail").asString()).contains("limit of 3");

        HttpResponse<String> oneFile = kiln.post("/execute", "{\"code\": \"1\", \"files\": {\"a\": \""
                + "z".repeat(600) + "\"}}");
        assertThat(oneFile.statusCode()).isEqualTo(413);
        assertThat(json(oneFile).at("/error/field").asString()).isEqualTo("files[a]");
    }

    @Test
    void unknownJobTypeIs404WithTheList() throws Exception {
        HttpResponse<String> r = kiln.post("/execute", "{\"code\": \"1\", \"job_type\": \"gpu\"}");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(json(r).at("/error/field").asString()).isEqualTo("job_type");
        assertThat(json(r).get("available_job_types").toString()).contains("default");
    }

    @Test
    void badTimeoutIs400NamingTheMaximum() throws Exception {
        for (String t : List.of("0", "-1", "301", "1.5", "\"soon\"")) {
            HttpResponse<String> r = kiln.post("/execute", "{\"code\": \"1\", \"timeout\": " + t + "}");
            assertThat(r.statusCode()).as(t).isEqualTo(400);
            assertThat(json(r).at("/error/field").asString()).isEqualTo("timeout");
        }
        assertThat(json(kiln.post("/execute", "{\"code\": \"1\", \"timeout\": 301}")).at("/detail").asString())
                .contains("between 1 and 300");
    }

    @Test
    void hundredMalformedRequestsAreEach4xxAndTheServerStillServes() throws Exception {
        List<String[]> bad = new ArrayList<>();
        String[] bodies = {"", "{", "[]", "null", "42", "\"code\"", "{\"code\": 1}", "{\"code\": null}",
                "{\"code\": \"\"}", "{\"code\": \"1\", \"extra\": 1}", "{\"code\": \"1\", \"files\": []}",
                "{\"code\": \"1\", \"files\": {\"../etc/passwd\": \"x\"}}",
                "{\"code\": \"1\", \"files\": {\"/abs\": \"x\"}}",
                "{\"code\": \"1\", \"files\": {\"a\": {\"content\": \"%%%\", \"encoding\": \"base64\"}}}",
                "{\"code\": \"1\", \"files\": {\"a\": {\"content\": \"x\", \"encoding\": \"rot13\"}}}",
                "{\"code\": \"1\", \"job_type\": 7}", "{\"code\": \"1\", \"timeout\": true}",
                "{\"code\": \"1\", \"idempotency_key\": 7}", "\u0000\u0001", "{\"code\": \"1\"}}"};
        for (int i = 0; i < 100; i++) bad.add(new String[]{"POST", "/execute", bodies[i % bodies.length]});
        for (String[] b : bad) {
            HttpResponse<String> r = kiln.post(b[1], b[2]);
            assertThat(r.statusCode()).as(b[2]).isBetween(400, 499);
            assertThat(json(r).has("detail")).as(b[2]).isTrue();
        }
        String[] badGets = {"/jobs/nope", "/jobs?status=weird", "/jobs?limit=0", "/jobs?limit=abc",
                "/jobs?cursor=xyz", "/jobs/nope?wait=-1", "/jobs/nope/artifacts/x", "/no-such-route"};
        for (String g : badGets) assertThat(kiln.get(g).statusCode()).as(g).isBetween(400, 499);
        assertThat(kiln.post("/jobs/nope/cancel", "{}").statusCode()).isEqualTo(404);

        HttpResponse<String> ok = kiln.post("/execute", "{\"code\": \"print(1)\"}");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(json(ok).get("status").asString()).isEqualTo("succeeded");
        assertThat(kiln.get("/health").statusCode()).isEqualTo(200);
    }
}
