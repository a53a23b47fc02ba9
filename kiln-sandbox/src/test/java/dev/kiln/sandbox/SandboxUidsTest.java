package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The uid allocator and its range's validation (real files, real locks). */
class SandboxUidsTest {
    @TempDir
    Path temp;

    // a range of its own: no other test of this JVM leases from it
    private static final SandboxUidRange RANGE = new SandboxUidRange(1_500_000_000L, 1_500_000_002L);
    // a retired uid stays taken for the life of the JVM: that test gets a range of its own too
    private static final SandboxUidRange RETIRING = new SandboxUidRange(1_500_000_100L, 1_500_000_102L);

    @Test
    void leasesTheLowestFreeUidAndNeverTheSameTwice() throws IOException {
        SandboxUids uids = SandboxUids.of(RANGE, temp.resolve("locks"));
        SandboxUids.Lease a = uids.lease();
        SandboxUids.Lease b = uids.lease();
        assertThat(a.uid()).isEqualTo(1_500_000_000);
        assertThat(b.uid()).isEqualTo(1_500_000_001);
        a.release(true);
        SandboxUids.Lease c = uids.lease();
        assertThat(c.uid()).as("returned once its processes are gone").isEqualTo(1_500_000_000);
        b.release(true);
        c.release(true);
    }

    @Test
    void anotherAllocatorOnTheSameLocksNeverGetsAHeldUid() throws IOException {
        // two executors (or a layer store and an executor) of one JVM; another process is kept out by the flock
        SandboxUids one = SandboxUids.of(RANGE, temp.resolve("locks"));
        SandboxUids two = SandboxUids.of(RANGE, temp.resolve("locks"));
        SandboxUids.Lease a = one.lease();
        SandboxUids.Lease b = two.lease();
        assertThat(b.uid()).isNotEqualTo(a.uid());
        a.release(true);
        b.release(true);
    }

    @Test
    void aUidWhoseProcessesMayStillLiveIsNeverHandedOutAgain() throws IOException {
        SandboxUids uids = SandboxUids.of(RETIRING, temp.resolve("locks"));
        SandboxUids.Lease a = uids.lease();
        SandboxUids.Lease b = uids.lease();
        SandboxUids.Lease c = uids.lease();
        a.release(false); // its cgroup did not empty
        assertThatThrownBy(uids::lease).isInstanceOf(IOException.class)
                .hasMessageContaining("no free sandbox uid").hasMessageContaining("1500000100-1500000102");
        b.release(true);
        assertThat(uids.lease().uid()).isEqualTo(1_500_000_101);
        c.release(true);
    }

    @Test
    void unprivilegedLeasesAreKilnsOwnUid() throws IOException {
        SandboxUids.Lease l = SandboxUids.unprivileged().lease();
        assertThat(l.uid()).isEqualTo(-1);
        l.release(true);
    }

    @Test
    void parsesAndRefusesBadRanges() {
        assertThat(SandboxUidRange.parse(" 100000-165535 ")).isEqualTo(new SandboxUidRange(100000, 165535));
        assertThat(SandboxUidRange.parse("7-7").size()).isEqualTo(1);
        assertThatThrownBy(() -> SandboxUidRange.parse("0-10")).hasMessageContaining("uid 0");
        assertThatThrownBy(() -> SandboxUidRange.parse("10-5")).hasMessageContaining("first <= last");
        assertThatThrownBy(() -> SandboxUidRange.parse("60000-70000")).hasMessageContaining("65534");
        assertThatThrownBy(() -> SandboxUidRange.parse("1-4294967295")).hasMessageContaining("at or below");
        assertThatThrownBy(() -> SandboxUidRange.parse("abc")).hasMessageContaining("must look like");
    }

    @Test
    void refusesARangeTooSmallOrSharedWithTheHost() throws IOException {
        Path etc = Files.createDirectory(temp.resolve("etc"));
        Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
        Files.writeString(etc.resolve("group"), "root:x:0:\nbig:x:200005:\n");
        Files.writeString(etc.resolve("subuid"), "alice:100000:65536\n");
        assertThat(new SandboxUidRange(300000, 300009).problemOnHost(etc, 10)).isNull();
        assertThat(new SandboxUidRange(300000, 300009).problemOnHost(etc, 11)).contains("holds 10 uids but up to 11");
        assertThat(new SandboxUidRange(900, 1100).problemOnHost(etc, 1)).contains("user 'alice' (1000)");
        assertThat(new SandboxUidRange(200000, 200010).problemOnHost(etc, 1)).contains("group 'big' (200005)");
        assertThat(new SandboxUidRange(165000, 170000).problemOnHost(etc, 1))
                .contains("subordinate ids 100000-165535 of 'alice'");
        assertThat(SandboxUidRange.DEFAULT.problemOnHost(Path.of("/etc"), 64)).as("this host").isNull();
    }
}
