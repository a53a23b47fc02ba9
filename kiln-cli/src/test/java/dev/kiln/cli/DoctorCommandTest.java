package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** `kiln doctor` on this real host: every item is reported, and the exit code says whether the default setup runs. */
class DoctorCommandTest {
    private static final List<String> ITEMS = List.of("bubblewrap", "bwrap --disable-userns", "python3", "cgroups",
            "seccomp", "user-mode networking", "runsc (gVisor)", "sandbox uids", "root");

    private record Run(int exit, String out) {
    }

    private static Run doctor(String... args) {
        var cl = Main.commandLine();
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(new StringWriter()));
        String[] argv = new String[args.length + 1];
        argv[0] = "doctor";
        System.arraycopy(args, 0, argv, 1, args.length);
        return new Run(cl.execute(argv), out.toString());
    }

    @Test
    void reportsEveryItemAndExitsZeroExactlyWhenTheRequiredOnesArePresent() {
        Run json = doctor("--json");
        JsonNode report = JsonMapper.builder().build().readTree(json.out());
        List<String> names = new ArrayList<>();
        boolean requiredOk = true;
        for (JsonNode c : report.path("checks")) {
            names.add(c.path("name").asString());
            if (c.path("required").asBoolean() && !c.path("ok").asBoolean()) requiredOk = false;
            if (!c.path("ok").asBoolean()) assertThat(c.path("install").asString()).as(c.toString()).isNotBlank();
        }
        assertThat(names).containsExactlyElementsOf(ITEMS);
        assertThat(report.path("default_configuration_ready").asBoolean()).isEqualTo(requiredOk);
        assertThat(json.exit()).isEqualTo(requiredOk ? 0 : 1);

        Run text = doctor();
        for (String item : ITEMS) assertThat(text.out()).contains(item);
        assertThat(text.out()).contains("65534");
        assertThat(text.exit()).isEqualTo(json.exit());
    }

    @Test
    void aMissingBubblewrapFailsNamingThePackageAndAMissingRunscOnlyCostsGvisor() {
        Run noBwrap = doctor("--bwrap", "/nonexistent/bwrap");
        assertThat(noBwrap.exit()).isEqualTo(1);
        assertThat(noBwrap.out()).contains("MISSING  bubblewrap", "apt-get install -y bubblewrap");

        Run noRunsc = doctor("--runsc", "/nonexistent/runsc", "--json");
        JsonNode runsc = null;
        for (JsonNode c : JsonMapper.builder().build().readTree(noRunsc.out()).path("checks")) {
            if (c.path("name").asString().equals("runsc (gVisor)")) runsc = c;
        }
        assertThat(runsc).isNotNull();
        assertThat(runsc.path("ok").asBoolean()).isFalse();
        assertThat(runsc.path("required").asBoolean()).isFalse();
        assertThat(runsc.path("install").asString()).isEqualTo("apt-get install -y runsc");
        assertThat(runsc.path("cost").asString()).contains("executor: gvisor");
    }
}
