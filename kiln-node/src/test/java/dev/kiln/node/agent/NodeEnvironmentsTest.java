package dev.kiln.node.agent;

import static dev.kiln.node.agent.TestLayers.type;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.JobType;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.core.PackageSpec;
import dev.kiln.node.NodeExecutors;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.PipSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeEnvironmentsTest {
    @TempDir
    Path tmp;

    @Test
    void aTypeWithoutLayerRunsOnTheBareInterpreter() {
        NodeEnvironments environments = new NodeEnvironments(null);
        JobType plain = JobType.defaults("default");

        assertThat(environments.digestToRun(plain)).isNull();
    }

    @Test
    void aNodeWithoutSandboxCannotRunATypeThatNeedsALayer() {
        NodeEnvironments environments = new NodeEnvironments(null);
        JobType ml = type("ml", new PackageSpec(null, List.of("numpy"), List.of()));

        assertThatThrownBy(() -> environments.digestToRun(ml)).isInstanceOf(LayerUnavailableException.class)
                .hasMessageContaining("'ml'").hasMessageContaining("no sandbox");
        assertThatThrownBy(() -> environments.provision(ml, "ab".repeat(32)))
                .isInstanceOf(LayerUnavailableException.class).hasMessageContaining("'ml'");
    }

    @Test
    void aLayerIsDigestedHereAndBuiltOnFirstUse() throws Exception {
        TestLayers.assumeSandbox();
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
        Path shared = Files.createDirectories(tmp.resolve("shared/helpers"));
        Files.writeString(shared.resolve("__init__.py"), "ANSWER = 42\n");
        JobType withShared = type("shared", new PackageSpec(null, List.of(), List.of(shared.toString())));
        JobType missing = type("missing", new PackageSpec(null, List.of(),
                List.of(tmp.resolve("nowhere").toString())));
        String cgroup = "kiln-test-" + UUID.randomUUID().toString().substring(0, 8);
        try (LayerStore layers = new LayerStore(tmp.resolve("layers"), NodeExecutors.bwrapConfig(
                Path.of("/usr/bin/bwrap"), Path.of("/usr/bin/python3"), cgroup), PipSources.DEFAULT)) {
            NodeEnvironments environments = new NodeEnvironments(layers);

            String digest = environments.digestToRun(withShared);
            assertThat(digest).matches("[0-9a-f]{64}").isEqualTo(environments.digestToRun(withShared));
            assertThat(layers.exists(digest)).isFalse();
            environments.provision(withShared, digest);
            assertThat(layers.exists(digest)).isTrue();
            assertThat(environments.provision(withShared, digest)).isZero();

            assertThatThrownBy(() -> environments.digestToRun(missing)).isInstanceOf(LayerUnavailableException.class)
                    .hasMessageContaining("'missing'");
        } finally {
            TestLayers.removeCgroup(cgroup);
        }
    }

}
