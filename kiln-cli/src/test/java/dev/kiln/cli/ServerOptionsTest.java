package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.store.StoreLocation;
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

    @Test
    void uidRangeSetsTheSandboxUidsAndABadOneNamesTheFlag() {
        assertThat(parse("--uid-range", "300000-300099").resolve().sandbox().uidRange())
                .isEqualTo(new dev.kiln.sandbox.SandboxUidRange(300000, 300099));
        assertThatThrownBy(() -> parse("--uid-range", "0-99").resolve())
                .hasMessageContaining("--uid-range (or KILN_UID_RANGE) must not include uid 0");
    }

    @Test
    void authModeIsSetByFlagAndABadOneNamesTheFlag() {
        assertThat(parse().resolve().authMode()).isEqualTo(dev.kiln.server.auth.AuthMode.LOCAL);
        assertThat(parse("--auth-mode", "required").resolve().authMode())
                .isEqualTo(dev.kiln.server.auth.AuthMode.REQUIRED);
        assertThatThrownBy(() -> parse("--auth-mode", "open").resolve())
                .hasMessageContaining("--auth-mode (or KILN_AUTH_MODE) must be local or required, got 'open'");
    }

    @Test
    void storeSelectsPostgresOrStaysSqlite() {
        assertThat(parse("--store", "postgresql://kiln:pw@db:5433/kiln").resolve().store())
                .isEqualTo(new StoreLocation.Postgres("db", 5433, "kiln", "kiln", "pw", java.util.Map.of()));
        assertThat(parse("--store", "sqlite").resolve().store()).isEqualTo(StoreLocation.SQLITE);
        if (System.getenv("KILN_STORE") == null) {
            assertThat(parse().resolve().store()).isEqualTo(StoreLocation.SQLITE);
        }
    }

    @Test
    void aMalformedStoreIsRefusedNamingTheFlagAndWhatIsExpectedButNotThePassword() {
        assertThatThrownBy(() -> parse("--store", "postgresql://kiln:hunter2@db/").resolve())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--store (or KILN_STORE): the database name is missing; expected "
                        + "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
    }
}
