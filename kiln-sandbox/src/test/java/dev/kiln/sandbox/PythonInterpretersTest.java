package dev.kiln.sandbox;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Against the host's real interpreters (Debian 12: /usr/bin/python3 -> python3.11). */
class PythonInterpretersTest {
    private static final Path DEFAULT = Path.of("/usr/bin/python3");
    private static PythonInterpreters interpreters;

    @BeforeAll
    static void setUp() {
        assumeTrue(Files.isExecutable(DEFAULT), "no /usr/bin/python3");
        interpreters = new PythonInterpreters(DEFAULT);
    }

    @Test
    void nullIsTheDefaultInterpreterWithItsFullVersion() {
        PythonInterpreters.Interpreter i = interpreters.resolve(null);
        assertThat(i.path()).isEqualTo(DEFAULT);
        assertThat(i.version()).matches("3\\.\\d+\\.\\d+");
    }

    @Test
    void majorMinorAndFullVersionsResolveToTheMatchingInterpreter() {
        String full = interpreters.resolve(null).version();
        String minor = full.substring(0, full.lastIndexOf('.'));

        PythonInterpreters.Interpreter byMinor = interpreters.resolve(minor);
        assertThat(byMinor.path()).isEqualTo(Path.of("/usr/bin/python" + minor));
        assertThat(byMinor.version()).isEqualTo(full);
        assertThat(interpreters.resolve(full)).isEqualTo(byMinor);
        assertThat(interpreters.resolve("3").version()).isEqualTo(full);
        assertThat(interpreters.available()).contains(byMinor);
    }

    @Test
    void aVersionTheHostLacksNamesWhatIsAvailable() {
        PythonInterpreters.Interpreter def = interpreters.resolve(null);
        String minor = def.version().substring(0, def.version().lastIndexOf('.'));
        String available = interpreters.available().stream().map(i -> i.version() + " (" + i.path() + ")")
                .reduce((a, b) -> a + ", " + b).orElseThrow();
        assertThat(available).contains(def.version() + " (/usr/bin/python" + minor + ")");

        assertThatThrownBy(() -> interpreters.resolve("3.99")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("python_version '3.99': no interpreter on this host matches; available: " + available);
        assertThatThrownBy(() -> interpreters.resolve("2")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("python_version '2': no interpreter on this host matches");
        assertThatThrownBy(() -> interpreters.resolve("3.x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a version");
    }

    @Test
    void matchingIsComponentWise() {
        assertThat(PythonInterpreters.matches("3.11", "3.11.2")).isTrue();
        assertThat(PythonInterpreters.matches("3", "3.11.2")).isTrue();
        assertThat(PythonInterpreters.matches("3.1", "3.11.2")).isFalse();
        assertThat(PythonInterpreters.matches("3.11.2", "3.11.20")).isFalse();
        assertThat(PythonInterpreters.compareVersions("3.9.1", "3.11.0")).isNegative();
    }

    @Test
    void onlyInterpretersUnderUsrAreAccepted() {
        assertThatThrownBy(() -> new PythonInterpreters(Path.of("/opt/python/bin/python3")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not under /usr");
        PythonInterpreters none = new PythonInterpreters(DEFAULT, List.of(Path.of("/nonexistent")));
        assertThatThrownBy(() -> none.resolve("3")).hasMessageEndingWith("available: none");
    }
}
