package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeIdentityTest {
    @TempDir
    Path tmp;

    @Test
    void aNewNodeGetsAnIdThatSurvivesRestarts() throws IOException {
        Path data = tmp.resolve("data");

        NodeIdentity first = NodeIdentity.load(data, null);
        NodeIdentity again = NodeIdentity.load(data, null);

        assertThat(first.id()).matches("node-[0-9a-f]{12}");
        assertThat(again.id()).isEqualTo(first.id());
        assertThat(Files.readString(data.resolve("node-id")).strip()).isEqualTo(first.id());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(first.file()))).isEqualTo("rw-------");
    }

    @Test
    void differentDataDirsAreDifferentNodes() throws IOException {
        assertThat(NodeIdentity.load(tmp.resolve("a"), null).id())
                .isNotEqualTo(NodeIdentity.load(tmp.resolve("b"), null).id());
    }

    @Test
    void anExplicitIdWinsAndIsKept() throws IOException {
        Path data = tmp.resolve("data");
        String generated = NodeIdentity.load(data, null).id();

        assertThat(NodeIdentity.load(data, "gpu-box_1.eu").id()).isEqualTo("gpu-box_1.eu");
        assertThat(NodeIdentity.load(data, null).id()).isEqualTo("gpu-box_1.eu").isNotEqualTo(generated);
    }

    @Test
    void badIdsAreRefused() {
        for (String bad : new String[]{"", "has space", "slash/y", "x".repeat(65), "..", "ünïcode"}) {
            assertThatThrownBy(() -> NodeIdentity.load(tmp.resolve("data"), bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("node id");
        }
        assertThat(Files.exists(tmp.resolve("data"))).isFalse();
        assertThat(NodeIdentity.isValid("x".repeat(64))).isTrue();
    }

    @Test
    void aCorruptedIdFileIsReportedNotReplaced() throws IOException {
        Path data = Files.createDirectory(tmp.resolve("data"));
        Files.writeString(data.resolve("node-id"), "not an id!\n");

        assertThatThrownBy(() -> NodeIdentity.load(data, null)).isInstanceOf(IOException.class)
                .hasMessageContaining("node-id").hasMessageContaining("not an id!");
        assertThat(Files.readString(data.resolve("node-id"))).isEqualTo("not an id!\n");
    }
}
