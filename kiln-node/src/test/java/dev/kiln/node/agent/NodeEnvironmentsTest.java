package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.core.JobType;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.core.PackageSpec;
import dev.kiln.node.NodeExecutors;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.PipSources;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeEnvironmentsTest {
    @TempDir
    Path tmp;

    private static JobType withPackages(String name, PackageSpec packages) {
        return new JobType(name, JobType.DEFAULT_MEMORY, 1, 30, 300, 64, false, Map.of(), null, 1 << 16, 1 << 20,
                packages);
    }

    @Test
    void aTypeWithoutLayerRunsOnTheBareInterpreter() {
        NodeEnvironments environments = new NodeEnvironments(null);
        JobType plain = JobType.defaults("default");

        assertThat(environments.digestToRun(plain)).isNull();
    }

    @Test
    void aNodeWithoutSandboxCannotRunATypeThatNeedsALayer() {
        NodeEnvironments environments = new NodeEnvironments(null);
        JobType ml = withPackages("ml", new PackageSpec(null, List.of("numpy"), List.of()));

        assertThatThrownBy(() -> environments.digestToRun(ml)).isInstanceOf(LayerUnavailableException.class)
                .hasMessageContaining("'ml'").hasMessageContaining("no sandbox");
        assertThatThrownBy(() -> environments.provision(ml, "ab".repeat(32)))
                .isInstanceOf(LayerUnavailableException.class).hasMessageContaining("'ml'");
    }

    @Test
    void aLayerIsDigestedHereAndBuiltOnFirstUse() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for a real layer store");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
        Path shared = Files.createDirectories(tmp.resolve("shared/helpers"));
        Files.writeString(shared.resolve("__init__.py"), "ANSWER = 42\n");
        JobType withShared = withPackages("shared", new PackageSpec(null, List.of(), List.of(shared.toString())));
        JobType missing = withPackages("missing", new PackageSpec(null, List.of(),
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
            removeCgroup(cgroup);
        }
    }

    /** The layer store leaves its (empty) parent cgroup for the executor sharing it; here there is none. */
    private static void removeCgroup(String name) throws IOException {
        Path root = Path.of("/sys/fs/cgroup");
        Files.deleteIfExists(root.resolve(name)); // v2
        try (DirectoryStream<Path> controllers = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path c : controllers) {
                if (!c.getFileName().toString().equals(name)) Files.deleteIfExists(c.resolve(name)); // v1
            }
        }
    }
}
