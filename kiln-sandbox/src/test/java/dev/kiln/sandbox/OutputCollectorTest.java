package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.OutputLimits;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The read-back rules on a plain directory (what a hostile job may leave in /output). */
class OutputCollectorTest {
    @TempDir
    Path temp;
    Path output;
    Path artifacts;

    @BeforeEach
    void dirs() throws IOException {
        output = Files.createDirectory(temp.resolve("output"));
        artifacts = Files.createDirectory(temp.resolve("artifacts"));
    }

    private OutputCollector.Collected collect(OutputLimits limits) {
        return new OutputCollector(limits).collect(output, artifacts);
    }

    @Test
    void collectsRegularFilesInNameOrderWithHashes() throws IOException {
        Files.createDirectories(output.resolve("b/c"));
        Files.writeString(output.resolve("b/c/deep.txt"), "deep");
        Files.writeString(output.resolve("a.txt"), "abc");
        Files.writeString(output.resolve("result.json"), "{\"ok\": true}");

        var c = collect(OutputLimits.DEFAULTS);

        assertThat(c.limitError()).isNull();
        assertThat(c.warnings()).isEmpty();
        assertThat(c.artifacts()).extracting(CollectedArtifact::name).containsExactly("a.txt", "b/c/deep.txt", "result.json");
        CollectedArtifact a = c.artifacts().getFirst();
        assertThat(a.size()).isEqualTo(3);
        assertThat(a.sha256()).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assertThat(a.file()).isEqualTo(artifacts.resolve("a.txt")).hasContent("abc");
        assertThat(c.outputJson()).isEqualTo("{\"ok\": true}");
    }

    @Test
    void skipsLinksAndInvalidNamesWithAWarning() throws IOException {
        Path secret = Files.writeString(temp.resolve("secret"), "host secret");
        Files.createSymbolicLink(output.resolve("link"), secret);
        Files.createSymbolicLink(output.resolve("dirlink"), temp);
        Files.createSymbolicLink(output.resolve("result.json"), secret);
        Files.writeString(output.resolve(".hidden"), "x");
        Files.writeString(output.resolve("bad\nname"), "x");

        var c = collect(OutputLimits.DEFAULTS);

        assertThat(c.artifacts()).isEmpty();
        assertThat(c.outputJson()).isNull();
        assertThat(c.warnings()).containsExactlyInAnyOrder(
                "[kiln] skipped /output/link: symbolic link",
                "[kiln] skipped /output/dirlink: symbolic link",
                "[kiln] skipped /output/result.json: symbolic link",
                "[kiln] skipped /output/.hidden: invalid name",
                "[kiln] skipped /output/bad?name: invalid name");
        try (var files = Files.list(artifacts)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aFileOverTheArtifactCap() throws IOException {
        Files.write(output.resolve("big.bin"), new byte[101]);
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 10));
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
        assertThat(c.artifacts()).isEmpty();
        assertThat(artifacts.resolve("big.bin")).doesNotExist();
    }

    @Test
    void moreFilesThanAllowed() throws IOException {
        for (int i = 0; i < 4; i++) Files.writeString(output.resolve("f" + i), "x");
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 3));
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
        assertThat(c.limitMessage()).contains("more than 3 files");
        assertThat(c.artifacts()).hasSize(3);
    }

    @Test
    void moreBytesInTotalThanAllowed() throws IOException {
        for (int i = 0; i < 3; i++) Files.write(output.resolve("f" + i), new byte[80]);
        var c = collect(new OutputLimits(1, 1, 200, 100, 10));
        assertThat(c.limitError()).isEqualTo(ErrorType.OUTPUT_LIMIT);
        assertThat(c.artifacts()).hasSize(2);
    }

    @Test
    void resultJsonOverTheArtifactCapIsNotReturned() throws IOException {
        Files.writeString(output.resolve("result.json"), "[" + "1,".repeat(100) + "1]");
        var c = collect(new OutputLimits(1, 1, 10_000, 100, 10));
        assertThat(c.outputJson()).isNull();
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
    }

    @Test
    void aHugeTreeStopsTheWalk() throws IOException {
        for (int i = 0; i <= OutputCollector.MAX_ENTRIES; i++) Files.createDirectory(output.resolve("d" + i));
        var c = collect(OutputLimits.DEFAULTS);
        assertThat(c.limitError()).isEqualTo(ErrorType.FILE_LIMIT);
    }

    @Test
    void aDirectorySwappedForASymlinkBetweenListingAndOpeningIsRefused() throws IOException {
        Path outside = Files.createDirectory(temp.resolve("outside"));
        Files.writeString(outside.resolve("f.txt"), "host secret");
        Files.createDirectory(output.resolve("a"));
        Files.writeString(output.resolve("a/f.txt"), "job's own");
        var c = new OutputCollector(OutputLimits.DEFAULTS, name -> {
            if (!name.equals("a/f.txt")) return;
            try { // the race a live process could win: a/ listed, then replaced by a link before f.txt is opened
                Files.move(output.resolve("a"), output.resolve("a.old"));
                Files.createSymbolicLink(output.resolve("a"), outside);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).collect(output, artifacts);

        assertThat(c.artifacts()).isEmpty();
        assertThat(c.warnings()).containsExactly("[kiln] skipped /output/a/f.txt: a symbolic link on its path (refused)");
        assertThat(artifacts.resolve("a/f.txt")).doesNotExist();
    }

    @Test
    void aDirectorySwappedBeforeItIsOpenedIsNotWalked() throws IOException {
        Path outside = Files.createDirectory(temp.resolve("outside"));
        Files.writeString(outside.resolve("secret-name"), "host secret");
        Files.createDirectories(output.resolve("a"));
        var c = new OutputCollector(OutputLimits.DEFAULTS, name -> {
            if (!name.equals("a")) return;
            try {
                Files.delete(output.resolve("a"));
                Files.createSymbolicLink(output.resolve("a"), outside);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).collect(output, artifacts);

        assertThat(c.artifacts()).isEmpty();
        // not even the names of the outside directory reach the job's stderr
        assertThat(String.join("\n", c.warnings())).doesNotContain("secret-name")
                .contains("/output/a: no longer a directory when opened (refused)");
    }

    @Test
    void aFifoIsSkippedWithoutBlocking() throws Exception {
        Process p = new ProcessBuilder("mkfifo", output.resolve("fifo").toString()).start();
        assertThat(p.waitFor()).isZero();
        Files.writeString(output.resolve("ok.txt"), "ok");
        var c = collect(OutputLimits.DEFAULTS);
        assertThat(c.artifacts()).extracting(CollectedArtifact::name).containsExactly("ok.txt");
        assertThat(c.warnings()).containsExactly("[kiln] skipped /output/fifo: not a regular file (device, fifo or socket)");
    }

    @Test
    void pathsAreResolvedBeneathTheRootWithNoLinkOnAnyComponent() throws IOException {
        Files.createDirectories(output.resolve("dir/sub"));
        Files.writeString(output.resolve("dir/sub/f"), "x");
        Files.writeString(temp.resolve("x"), "outside");
        Files.createSymbolicLink(output.resolve("link"), output.resolve("dir"));
        try (BeneathDir root = BeneathDir.openRoot(output)) {
            try (var f = root.openFile("dir/sub/f")) {
                assertThat(f.stat().isRegular()).isTrue();
                assertThat(f.stat().size()).isEqualTo(1);
            }
            assertThatThrownBy(() -> root.openFile("dir/../../x")).isInstanceOf(BeneathDir.NativeIOException.class)
                    .satisfies(e -> assertThat(((BeneathDir.NativeIOException) e).errno()).isEqualTo(18)); // EXDEV
            assertThatThrownBy(() -> root.openFile("link/sub/f")).isInstanceOf(BeneathDir.NativeIOException.class)
                    // ELOOP from openat2; ENOTDIR from the per-component O_NOFOLLOW|O_DIRECTORY walk
                    .satisfies(e -> assertThat(((BeneathDir.NativeIOException) e).errno()).isIn(40, 20));
            assertThatThrownBy(() -> root.openFile("/etc/passwd")).isInstanceOf(BeneathDir.NativeIOException.class);
            assertThat(root.list()).extracting(BeneathDir.Entry::name).containsExactlyInAnyOrder("dir", "link");
        }
        assertThatThrownBy(() -> BeneathDir.openRoot(output.resolve("link"))).isInstanceOf(IOException.class);
    }

    @Test
    void withoutOpenat2EveryComponentIsOpenedWithoutFollowingLinks() throws IOException {
        BeneathDir.forceOpenatFallback(true);
        try {
            pathsAreResolvedBeneathTheRootWithNoLinkOnAnyComponent();
            aDirectorySwappedForASymlinkBetweenListingAndOpeningIsRefusedAgain();
        } finally {
            BeneathDir.forceOpenatFallback(false);
        }
    }

    private void aDirectorySwappedForASymlinkBetweenListingAndOpeningIsRefusedAgain() throws IOException {
        Path fresh = Files.createDirectory(temp.resolve("output2"));
        Path outside = Files.createDirectory(temp.resolve("outside2"));
        Files.writeString(outside.resolve("f.txt"), "host secret");
        Files.createDirectory(fresh.resolve("a"));
        Files.writeString(fresh.resolve("a/f.txt"), "job's own");
        Path arts = Files.createDirectory(temp.resolve("artifacts2"));
        var c = new OutputCollector(OutputLimits.DEFAULTS, name -> {
            if (!name.equals("a/f.txt")) return;
            try {
                Files.move(fresh.resolve("a"), fresh.resolve("a.old"));
                Files.createSymbolicLink(fresh.resolve("a"), outside);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).collect(fresh, arts);
        assertThat(c.artifacts()).isEmpty();
        assertThat(c.warnings()).hasSize(1).first().asString().startsWith("[kiln] skipped /output/a/f.txt: ");
    }

    @Test
    void theKernelHasOpenat2() {
        // Linux >= 5.6; on an older kernel the per-component O_NOFOLLOW walk is used instead
        org.junit.jupiter.api.Assumptions.assumeTrue(BeneathDir.hasOpenat2(), "kernel without openat2 (< 5.6)");
        assertThat(BeneathDir.hasOpenat2()).isTrue();
    }
}
