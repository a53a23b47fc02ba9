package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `kiln server` flags override the config file and name the flag they reject. */
class ServerOptionsTest {

    private static ServerOptions parse(String... args) {
        ServerOptions o = new ServerOptions();
        new CommandLine(o).parseArgs(args);
        return o;
    }

    @Test
    void cgroupParentGivesThisServerItsOwnParent() {
        assertThat(parse("--cgroup-parent", "kiln-b").resolve().sandbox().cgroupParent()).isEqualTo("kiln-b");
        assertThat(parse().resolve().sandbox().cgroupParent()).isIn("kiln", System.getenv("KILN_CGROUP_PARENT"));
    }

    @Test
    void aCgroupParentThatIsNotOneSimpleNameIsRefused() {
        assertThatThrownBy(() -> parse("--cgroup-parent", "../etc").resolve())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--cgroup-parent must be a simple name like 'kiln', got '../etc'");
    }
}
