package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BwrapConfigTest {
    @Test
    void defaults() {
        BwrapConfig c = BwrapConfig.defaults();
        assertThat(c.bwrap()).isEqualTo(Path.of("/usr/bin/bwrap"));
        assertThat(c.python()).isEqualTo(Path.of("/usr/bin/python3"));
        assertThat(c.cgroupParent()).isEqualTo("kiln");
        assertThat(c.withCgroupParent("kiln-x").cgroupParent()).isEqualTo("kiln-x");
    }

    @Test
    void missingBubblewrapIsAClearErrorAtConstruction() {
        BwrapConfig c = new BwrapConfig(Path.of("/nonexistent/bwrap"), Path.of("/usr/bin/setpriv"),
                Path.of("/usr/bin/python3"), Path.of("/usr/bin/mount"), Path.of("/usr/bin/umount"),
                Path.of("/sys/fs/cgroup"), "kiln-never-created");
        assertThatThrownBy(() -> new BwrapExecutor(c))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("bubblewrap (bwrap) is not installed: run `apt-get install -y bubblewrap`");
    }

    @Test
    void pythonMustBeUnderUsr() {
        SandboxTestSupport.assumeSandboxUsable();
        assertThatThrownBy(() -> new BwrapExecutor(BwrapConfig.defaults().withPython(Path.of("/root/.pyenv/shims/python3"))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("under /usr");
    }
}
