package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnApiException;
import dev.kiln.sandbox.TestWheels;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.KilnConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Job types end to end: layers built by real pip (from wheels this test writes, no network) in a sandbox, mounted
 * into real bubblewrap sandboxes, driven over real HTTP.
 */
class JobTypesTest {
    private static Path files;
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(TestServer.bwrapUsable() && Files.exists(Path.of("/usr/lib/python3/dist-packages/pip")),
                "needs bwrap, root, cgroups and Debian's python3-pip (not available here)");
        files = Files.createTempDirectory("kiln-jobtypes-");
        Files.setPosixFilePermissions(files, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path wheels = Files.createDirectories(files.resolve("wheels"));
        TestWheels.write(wheels, "kilnpkga", "1.0", Map.of("kilnpkga/__init__.py", "VALUE = 1\n"), List.of());
        TestWheels.write(wheels, "kilnpkga", "2.0", Map.of("kilnpkga/__init__.py", "VALUE = 2\n"), List.of());
        TestWheels.write(wheels, "kilnpkgb", "1.0",
                Map.of("kilnpkgb/__init__.py", "import kilnpkga\ndef double():\n    return 2 * kilnpkga.VALUE\n"),
                List.of("kilnpkga"));
        Files.writeString(files.resolve("helpers.py"), "def greet(name):\n    return 'hello ' + name\n");
        Files.createDirectories(files.resolve("mylib"));
        Files.writeString(files.resolve("mylib/__init__.py"), "ANSWER = 42\n");
        String yaml = """
                pip:
                  no_index: true
                  find_links: [wheels]
                job_types:
                  - name: withpkgs
                    requirements: [kilnpkgb, "kilnpkga==1.0"]
                    shared_code: [helpers.py, mylib]
                    environment: {GREETING: bonjour}
                  - name: plain
                  - name: net
                    network_enabled: true
                  - name: tiny
                    memory_limit: 64m
                    timeout: 2
                    max_timeout: 2
                """;
        KilnConfig config = KilnConfigLoader.parseYaml("kiln.yaml", yaml, KilnConfig.defaults(), files);
        kiln = TestServer.start("bwrap", c -> c.withJobTypes(config.jobTypes()).withPip(config.pip()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
        if (files != null) {
            try (var paths = Files.walk(files)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static JobResponse run(String type, String code) {
        return kiln.client.execute(JobRequest.python(code).withJobType(type));
    }

    @Test
    void aTypeWithRequirementsImportsThemAndItsSharedCodeAndOthersCannot() {
        JobResponse r = run("withpkgs", """
                import kilnpkga, kilnpkgb, helpers, mylib
                print(kilnpkga.VALUE, kilnpkgb.double(), helpers.greet('kiln'), mylib.ANSWER)
                """);
        assertThat(r.status()).as(r.stderr()).isEqualTo("succeeded");
        assertThat(r.stdout()).isEqualTo("1 2 hello kiln 42\n");
        JsonNode job = kiln.client.jobType("withpkgs");
        assertThat(job.at("/build/state").asString()).isEqualTo("built");
        String digest = job.at("/build/digest").asString();
        assertThat(digest).hasSize(64);
        JsonNode raw = kilnGet("/jobs/" + r.jobId());
        assertThat(raw.get("layer_digest").asString()).isEqualTo(digest);

        JobResponse other = run("plain", "import kilnpkga");
        assertThat(other.status()).isEqualTo("failed");
        assertThat(other.stderr()).contains("ModuleNotFoundError: No module named 'kilnpkga'");
        JobResponse noShared = run("plain", "import helpers");
        assertThat(noShared.stderr()).contains("No module named 'helpers'");
    }

    @Test
    void environmentIsVisibleAndNothingElseOfTheServers() {
        JobResponse r = run("withpkgs", "import os\nprint(os.environ['GREETING'])\nprint(' '.join(sorted(os.environ)))");
        // Exactly the sandbox's own variables (PWD from bwrap's --chdir) plus the type's: nothing of the server's.
        assertThat(r.stdout()).isEqualTo("bonjour\nGREETING HOME LANG PATH PWD PYTHONDONTWRITEBYTECODE PYTHONPATH "
                + "PYTHONUNBUFFERED TMPDIR\n");
        JobResponse values = run("withpkgs", "import os\nprint(os.environ['HOME'], os.environ['PATH'], os.environ['PWD'])");
        assertThat(values.stdout()).isEqualTo("/tmp /usr/local/bin:/usr/bin:/bin /input\n");
    }

    @Test
    void neitherANetworkDisabledNorANetworkEnabledTypeReachesKilnsApiOnTheHostsLoopback() {
        String probe = """
                import urllib.request
                print(urllib.request.urlopen('http://127.0.0.1:%d/health', timeout=5).status)
                """.formatted(kiln.server.port());
        JobResponse closed = run("plain", probe);
        assertThat(closed.status()).isEqualTo("failed");
        assertThat(closed.stderr()).contains("Connection refused");
        // its own network namespace (pasta): 127.0.0.1 there is the sandbox's own loopback, not the host's
        JobResponse open = run("net", probe);
        assertThat(open.status()).as(open.stderr()).isEqualTo("failed");
        assertThat(open.stderr()).contains("Connection refused");
    }

    @Test
    void perTypeMemoryAndTimeoutLimitsApply() {
        JobResponse oom = run("tiny", "x = []\nwhile True:\n    x.append(bytearray(8 * 1024 * 1024))");
        assertThat(oom.status()).isEqualTo("oom");
        JobResponse slow = run("tiny", "import time\ntime.sleep(5)");
        assertThat(slow.status()).isEqualTo("timeout");
        assertThat(slow.error().message()).contains("2");
        JobResponse roomy = run("plain", "x = bytearray(100 * 1024 * 1024)\nprint(len(x))");
        assertThat(roomy.status()).isEqualTo("succeeded");
    }

    @Test
    void developmentModeBuildsOnFirstUseAndTheFirstJobsStartupShowsIt() {
        kiln.client.putJobType("firstuse", Map.of("requirements", List.of("kilnpkgb")));
        assertThat(kiln.client.jobType("firstuse").at("/build/state").asString()).isEqualTo("not_built");
        JobResponse first = run("firstuse", "import kilnpkgb\nprint(kilnpkgb.double())");
        assertThat(first.status()).as(first.stderr()).isEqualTo("succeeded");
        assertThat(kiln.client.jobType("firstuse").at("/build/state").asString()).isEqualTo("built");
        JobResponse second = run("firstuse", "import kilnpkgb\nprint(kilnpkgb.double())");
        // pip takes hundreds of milliseconds; the sandbox alone takes tens.
        assertThat(first.timing().startupMs()).isGreaterThan(second.timing().startupMs() + 100);
        kiln.client.deleteJobType("firstuse");
    }

    @Test
    void aBuildLogCanBeFollowedWhileTheBuildRuns() throws Exception {
        kiln.client.putJobType("streamed", Map.of("requirements", List.of("kilnpkga==2.0")));
        kiln.client.buildJobType("streamed", true);
        String followed = kiln.get("/job-types/streamed/build-log?follow=true").body(); // returns when the build ends
        assertThat(followed).contains("kilnpkga");
        assertThat(kiln.client.jobType("streamed").at("/build/state").asString()).isEqualTo("built");
        kiln.client.deleteJobType("streamed");
    }

    @Test
    void rebuildingAnUnchangedTypeDoesNotRunPip() {
        kiln.client.buildJobType("withpkgs", false);
        JsonNode again = kiln.client.buildJobType("withpkgs", false);
        assertThat(again.get("ran_pip").asBoolean()).isFalse();
        assertThat(again.at("/build/state").asString()).isEqualTo("built");
    }

    @Test
    void aChangedRequirementGetsANewLayerWhileARunningJobFinishesOnTheOldOne() throws Exception {
        kiln.client.putJobType("evolving", Map.of("requirements", List.of("kilnpkga==1.0")));
        String v1 = kiln.client.buildJobType("evolving", false).at("/build/digest").asString();
        JobResponse running = kiln.client.submit(JobRequest.python(
                "import time, kilnpkga\ntime.sleep(3)\nprint(kilnpkga.VALUE)").withJobType("evolving"));
        Awaitility.await().until(() -> kiln.client.get(running.jobId(), 0).status().equals("running"));

        kiln.client.putJobType("evolving", Map.of("requirements", List.of("kilnpkga==2.0")));
        JsonNode built = kiln.client.buildJobType("evolving", false);
        String v2 = built.at("/build/digest").asString();
        assertThat(v2).isNotEqualTo(v1);
        assertThat(built.get("ran_pip").asBoolean()).isTrue();

        JobResponse old = kiln.client.get(running.jobId(), 30);
        assertThat(old.status()).as(old.stderr()).isEqualTo("succeeded");
        assertThat(old.stdout()).isEqualTo("1\n");
        assertThat(kilnGet("/jobs/" + running.jobId()).get("layer_digest").asString()).isEqualTo(v1);
        assertThat(run("evolving", "import kilnpkga\nprint(kilnpkga.VALUE)").stdout()).isEqualTo("2\n");
        // Nothing uses v1 any more: it goes once its last job is done.
        Path layers = kiln.server.layerRoot();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(layers.resolve(v1)));
        assertThat(layers.resolve(v2)).isDirectory();

        // A bad requirement fails the build with pip's message; the previous layer stays in use.
        kiln.client.putJobType("evolving", Map.of("requirements", List.of("nosuchpkg")));
        assertThatThrownBy(() -> kiln.client.buildJobType("evolving", false))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.status()).isEqualTo(422));
        assertThat(kiln.client.jobTypeBuildLog("evolving")).contains("nosuchpkg");
        JsonNode state = kiln.client.jobType("evolving");
        assertThat(state.at("/build/state").asString()).isEqualTo("failed");
        assertThat(state.at("/build/active_digest").asString()).isEqualTo(v2);
        JobResponse stillWorks = run("evolving", "import kilnpkga\nprint(kilnpkga.VALUE)");
        assertThat(stillWorks.stdout()).isEqualTo("2\n");
        kiln.client.deleteJobType("evolving");
    }

    @Test
    void fileDefinedTypesWinAndBadDefinitionsNameTheField() {
        assertThatThrownBy(() -> kiln.client.putJobType("withpkgs", Map.of("timeout", 5)))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(409);
                    assertThat(e.getMessage()).contains("file-defined types win");
                });
        assertThatThrownBy(() -> kiln.client.putJobType("x", Map.of("requirements", List.of("--index-url=evil"))))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("requirements");
                });
        assertThatThrownBy(() -> kiln.client.putJobType("x", Map.of("shared_code", List.of("/etc"))))
                .isInstanceOfSatisfying(KilnApiException.class, e -> assertThat(e.field()).isEqualTo("shared_code"));
        assertThatThrownBy(() -> kiln.client.putJobType("x", Map.of("python_version", "3.99")))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.field()).isEqualTo("python_version");
                    assertThat(e.getMessage()).contains("no interpreter on this host matches");
                });
    }

    @Test
    void productionModeRefusesAnUnbuiltTypeUntilItIsBuilt() throws Exception {
        KilnConfig config = KilnConfigLoader.parseYaml("kiln.yaml", """
                production_mode: true
                pip: {no_index: true, find_links: [wheels]}
                job_types:
                  - name: prod
                    requirements: ["kilnpkga==2.0"]
                """, KilnConfig.defaults(), files);
        try (TestServer prod = TestServer.start("bwrap", c -> c.withJobTypes(config.jobTypes())
                .withPip(config.pip()).withProductionMode(true))) {
            JobRequest job = JobRequest.python("import kilnpkga\nprint(kilnpkga.VALUE)").withJobType("prod");
            assertThatThrownBy(() -> prod.client.execute(job))
                    .isInstanceOfSatisfying(KilnApiException.class, e -> {
                        assertThat(e.status()).isEqualTo(409);
                        assertThat(e.code()).isEqualTo("job_type_not_built");
                        assertThat(e.getMessage()).contains("'prod'").contains("POST /job-types/prod/build");
                    });
            assertThat(prod.client.buildJobType("prod", false).at("/build/state").asString()).isEqualTo("built");
            assertThat(prod.client.execute(job).stdout()).isEqualTo("2\n");
        }
    }

    private static JsonNode kilnGet(String path) {
        try {
            return new tools.jackson.databind.json.JsonMapper().readTree(kiln.get(path).body());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
