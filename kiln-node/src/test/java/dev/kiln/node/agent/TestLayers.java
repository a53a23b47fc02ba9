package dev.kiln.node.agent;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.core.JobType;
import dev.kiln.core.PackageSpec;
import dev.kiln.sandbox.TestWheels;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

/** For node tests on a real layer store: the check that one can run here, wheels to build from, types needing them. */
final class TestLayers {
    private TestLayers() {
    }

    /** Skips the test unless this machine can run real sandboxes (bwrap, root). */
    static void assumeSandbox() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for a real layer store");
    }

    /**
     * {@code <parent>/wheels} with kilnpkga 1.0 ({@code VALUE = 1}) and 2.0 ({@code VALUE = 2}). {@code parent} is made
     * 0755: pip runs as the sandbox user, which must read the wheels and reach layer roots beside them.
     */
    static Path wheels(Path parent) throws IOException {
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path wheels = Files.createDirectories(parent.resolve("wheels"));
        Files.setPosixFilePermissions(wheels, PosixFilePermissions.fromString("rwxr-xr-x"));
        TestWheels.write(wheels, "kilnpkga", "1.0", Map.of("kilnpkga/__init__.py", "VALUE = 1\n"), List.of());
        TestWheels.write(wheels, "kilnpkga", "2.0", Map.of("kilnpkga/__init__.py", "VALUE = 2\n"), List.of());
        return wheels;
    }

    static JobType type(String name, PackageSpec packages) {
        return new JobType(name, JobType.DEFAULT_MEMORY, 1, 30, 300, 64, false, Map.of(), null, 1 << 16, 1 << 20,
                packages);
    }

    /** A type whose layer holds one requirement, e.g. {@code kilnpkga==1.0}. */
    static JobType type(String name, String requirement) {
        return type(name, new PackageSpec(null, List.of(requirement), List.of()));
    }

    /** A layer store leaves its (empty) parent cgroup for the executor sharing it; without one, the test removes it. */
    static void removeCgroup(String name) throws IOException {
        Path root = Path.of("/sys/fs/cgroup");
        Files.deleteIfExists(root.resolve(name)); // v2
        try (DirectoryStream<Path> controllers = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path c : controllers) {
                if (!c.getFileName().toString().equals(name)) Files.deleteIfExists(c.resolve(name)); // v1
            }
        }
    }
}
