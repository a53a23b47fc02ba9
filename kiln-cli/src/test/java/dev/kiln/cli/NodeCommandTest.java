package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** `kiln node` flags become the agent's configuration; a bad one is a usage error naming it. */
class NodeCommandTest {
    private static final String URL = "http://10.0.0.5:8000";

    private static NodeCommand parse(String... args) {
        NodeCommand c = new NodeCommand();
        new CommandLine(c).parseArgs(args);
        return c;
    }

    @Test
    void layerTtlTakesMinutesHoursOrDaysAndDefaultsToAWeek() {
        assertThat(parse("--orchestrator", URL).config().layerTtl()).isEqualTo(Duration.ofDays(7));
        assertThat(parse("--orchestrator", URL, "--layer-ttl", "30m").config().layerTtl())
                .isEqualTo(Duration.ofMinutes(30));
        assertThat(parse("--orchestrator", URL, "--layer-ttl", "12h").config().layerTtl())
                .isEqualTo(Duration.ofHours(12));
        assertThat(parse("--orchestrator", URL, "--layer-ttl", "30d").config().layerTtl())
                .isEqualTo(Duration.ofDays(30));
    }

    @ParameterizedTest
    @ValueSource(strings = {"7", "7w", "0d", "-1h", "1.5h", "", "7 d", "forever"})
    void aLayerTtlInAnyOtherFormIsAUsageErrorNamingTheFlag(String ttl) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));

        int exit = cl.execute("node", "--orchestrator", URL, "--layer-ttl=" + ttl);

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--layer-ttl must be a whole number of minutes, hours or days such as "
                + "30m, 12h or 7d, got '" + ttl + "'");
    }

    @Test
    void uidRangeDefaultsAndMustHoldMoreThanTheSlots() {
        assertThat(parse("--orchestrator", URL).config().uidRange()).isEqualTo(dev.kiln.sandbox.SandboxUidRange.DEFAULT);
        assertThat(parse("--orchestrator", URL, "--slots", "2", "--uid-range", "300000-300002").config().uidRange())
                .isEqualTo(new dev.kiln.sandbox.SandboxUidRange(300000, 300002));
        assertThatThrownBy(() -> parse("--orchestrator", URL, "--slots", "3", "--uid-range", "300000-300002").config())
                .hasMessageContaining("holds 3 uids but the node needs at least slots + 1 (4)");
        assertThatThrownBy(() -> parse("--orchestrator", URL, "--uid-range", "1-70000").config())
                .hasMessageContaining("--uid-range (or KILN_UID_RANGE) must not include 65534");
    }

    @Test
    void orchestratorTakesACommaSeparatedListTriedInOrder() {
        assertThat(parse("--orchestrator", URL).config().orchestrators()).containsExactly(java.net.URI.create(URL));
        assertThat(parse("--orchestrator", "http://10.0.0.5:8000, https://kiln.example.com/prefix").config()
                .orchestrators()).containsExactly(java.net.URI.create("http://10.0.0.5:8000"),
                java.net.URI.create("https://kiln.example.com/prefix"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://10.0.0.5:8000,ftp://10.0.0.6", "http://10.0.0.5:8000,10.0.0.6:8000",
            "http://a:1,http://b:2?x=1", "http://a:1,,http://b:2", "http://a:1,", "not a url", ""})
    void aBadUrlInTheListIsAUsageErrorNamingTheFlagAndTheUrl(String list) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));

        int exit = cl.execute("node", "--orchestrator", list);

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--orchestrator");
        String[] parts = list.split(",", -1);
        String bad = java.util.Arrays.stream(parts).map(String::strip).filter(p -> p.isEmpty()
                || !p.startsWith("http://") || p.contains("?")).findFirst().orElseThrow();
        if (bad.isEmpty()) {
            assertThat(err.toString()).contains("a URL in the list is empty");
        } else {
            assertThat(err.toString()).contains("got '" + bad + "'");
        }
    }
}
