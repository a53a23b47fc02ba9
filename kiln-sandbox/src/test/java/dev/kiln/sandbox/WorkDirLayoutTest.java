package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkDirLayoutTest {
    @TempDir
    Path temp;

    private static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void laysOutInputCodeEtcAndArtifactsWithExplicitPermissions() throws IOException {
        WorkDirLayout layout = WorkDirLayout.of(temp.resolve("w"));
        layout.prepare("print(1)", "{\"a\":1}", Map.of("d/e/f.txt", "x".getBytes(StandardCharsets.UTF_8)));

        assertThat(layout.mainPy()).hasContent("print(1)");
        assertThat(layout.input().resolve("data.json")).hasContent("{\"a\":1}");
        assertThat(layout.input().resolve("d/e/f.txt")).hasContent("x");
        assertThat(perms(layout.root())).isEqualTo("rwx--x--x");
        assertThat(perms(layout.input().resolve("d/e"))).isEqualTo("rwxr-xr-x");
        assertThat(perms(layout.input().resolve("d/e/f.txt"))).isEqualTo("rw-r--r--");
        assertThat(perms(layout.artifacts())).isEqualTo("rwx------");
        assertThat(layout.etc().resolve("passwd")).content().contains("nobody:x:65534:65534:");
        assertThat(layout.etc().resolve("group")).content().contains("nogroup:x:65534:");
        assertThat(layout.output()).isEmptyDirectory();
    }

    @Test
    void noDataJsonWithoutInputData() throws IOException {
        WorkDirLayout layout = WorkDirLayout.of(temp.resolve("w"));
        layout.prepare("pass", null, Map.of());
        assertThat(layout.input()).isEmptyDirectory();
    }

    @Test
    void refusesNamesThatWouldLeaveInput() {
        WorkDirLayout layout = WorkDirLayout.of(temp.resolve("w"));
        assertThatThrownBy(() -> layout.prepare("pass", null, Map.of("../x", new byte[0]))).isInstanceOf(IOException.class);
        assertThat(temp.resolve("w/x")).doesNotExist();
    }

    @Test
    void findsAnAncestorTheSandboxUserCannotTraverse() throws IOException {
        Path closed = Files.createDirectory(temp.resolve("closed"));
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        WorkDirLayout layout = WorkDirLayout.of(closed.resolve("w"));
        layout.prepare("pass", null, Map.of());
        assertThat(layout.firstUntraversableAncestor()).isEqualTo(closed.toRealPath());

        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx--x--x"));
        assertThat(layout.firstUntraversableAncestor()).isNull();
    }
}
