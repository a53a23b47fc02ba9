package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnApiException;
import dev.kiln.sandbox.RunscPlatform;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.KilnConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code executor: gvisor} end to end: a server whose config names it runs that type's jobs in gVisor (its shared
 * code from the type's layer) and the others in bwrap; registration refuses what gVisor cannot do here.
 */
class GvisorJobTypesTest {
    private static Path files;
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs bwrap, root and cgroups (not available here)");
        assumeTrue(RunscPlatform.installed(RunscPlatform.DEFAULT_RUNSC), "gVisor is not installed (apt-get install -y runsc)");
        files = Files.createTempDirectory("kiln-gvisor-types-");
        Files.setPosixFilePermissions(files, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(files.resolve("helpers.py"), "def greet(name):\n    return 'hello ' + name\n");
        KilnConfig config = KilnConfigLoader.parseYaml("kiln.yaml", """
                job_types:
                  - name: hardened
                    executor: gvisor
                    shared_code: [helpers.py]
                    environment: {GREETING: bonjour}
                  - name: plain
                """, KilnConfig.defaults(), files);
        kiln = TestServer.start("bwrap", c -> c.withJobTypes(config.jobTypes()));
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

    private static final String PROBE = """
            import os, platform
            print(platform.release() == %s, os.environ.get('GREETING'))
            """.formatted("'" + System.getProperty("os.version") + "'");

    @Test
    void aGvisorTypeRunsInGvisorWithItsLayerAndTheOthersInBwrap() {
        JobResponse hardened = kiln.client.execute(JobRequest.python(
                "import helpers\nprint(helpers.greet('kiln'))\n" + PROBE).withJobType("hardened"));
        assertThat(hardened.status()).as(hardened.stderr()).isEqualTo("succeeded");
        // gVisor's own kernel answers uname: not the host's release
        assertThat(hardened.stdout()).isEqualTo("hello kiln\nFalse bonjour\n");

        JobResponse plain = kiln.client.execute(JobRequest.python(PROBE).withJobType("plain"));
        assertThat(plain.status()).as(plain.stderr()).isEqualTo("succeeded");
        assertThat(plain.stdout()).isEqualTo("True None\n");
    }

    @Test
    void registrationRefusesANetworkedGvisorTypeNamingTheField() {
        assertThatThrownBy(() -> kiln.client.putJobType("netgv", Map.of("executor", "gvisor", "network_enabled", true)))
                .isInstanceOfSatisfying(KilnApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("network_enabled");
                    assertThat(e.getMessage()).contains("cannot be true on the gvisor executor yet");
                });
        assertThat(kiln.client.putJobType("gv2", Map.of("executor", "gvisor")).path("executor").asString())
                .isEqualTo("gvisor");
        kiln.client.deleteJobType("gv2");
    }

    @Test
    void aServerWhoseNodesDoNotOfferGvisorRefusesATypeNamingItWithWhatToInstall() throws Exception {
        try (TestServer bwrapOnly = TestServer.start("bwrap", c -> c)) {
            assertThatThrownBy(() -> bwrapOnly.client.putJobType("gv", Map.of("executor", "gvisor")))
                    .isInstanceOfSatisfying(KilnApiException.class, e -> {
                        assertThat(e.status()).isEqualTo(400);
                        assertThat(e.field()).isEqualTo("executor");
                        assertThat(e.getMessage()).contains("no connected node offers executor 'gvisor'",
                                "apt-get install -y runsc");
                    });
        }
    }
}
