package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The policy as data, and its compilation by the real libseccomp. */
class SeccompPolicyTest {
    @TempDir
    Path temp;

    @Test
    void nothingDeniedIsOnTheAllowList() {
        Set<String> allowed = new HashSet<>(SeccompPolicy.ALLOWED);
        assertThat(SeccompPolicy.DENIED).noneMatch(allowed::contains);
        assertThat(allowed).hasSameSizeAs(SeccompPolicy.ALLOWED); // no duplicates
        for (SeccompPolicy.Rule r : SeccompPolicy.sandbox(true).rules()) {
            assertThat(allowed).as(r.syscall() + " has argument rules, so it is not allowed outright")
                    .doesNotContain(r.syscall().equals("ioctl") ? "-" : r.syscall());
        }
    }

    @Test
    void allowExceptCoversEveryOtherValueOfTheLow32Bits() {
        List<Long> excluded = List.of(SeccompPolicy.TIOCSTI, SeccompPolicy.TIOCLINUX);
        List<SeccompPolicy.Rule> rules = SeccompPolicy.allowExcept("ioctl", 1, excluded);
        java.util.function.LongPredicate allowed = v -> rules.stream().anyMatch(r -> r.args().stream()
                .allMatch(a -> (v & a.mask()) == a.value()));
        for (long v : excluded) {
            assertThat(allowed.test(v)).as(Long.toHexString(v)).isFalse();
            assertThat(allowed.test(v | 0x1_0000_0000L)).as("high bits do not help").isFalse();
        }
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < 200_000; i++) {
            long v = i < 0x10000 ? i : random.nextLong();
            boolean excludedValue = excluded.contains(v & 0xFFFF_FFFFL);
            assertThat(allowed.test(v)).as(Long.toHexString(v)).isEqualTo(!excludedValue);
        }
        assertThat(rules).hasSizeLessThan(40);
    }

    @Test
    void everyNameIsASyscallOfThisArchitectureOrOfNone() throws Throwable {
        SeccompCompiler compiler = SeccompCompiler.load();
        // the names libseccomp does not know at all would be typos; 32-bit-only ones resolve negative on x86_64
        for (String name : List.of("read", "openat", "clone", "socket", "ioctl", "personality", "io_uring_setup")) {
            assertThat(compiler.resolve(name)).as(name).isNotNegative();
        }
        assertThat(compiler.resolve("no_such_syscall")).isNegative();
    }

    @Test
    void compilesBothVariantsToBpf() throws Exception {
        SeccompCompiler compiler = SeccompCompiler.load();
        Path off = temp.resolve("off.bpf");
        Path on = temp.resolve("on.bpf");
        compiler.compile(SeccompPolicy.sandbox(false), off);
        compiler.compile(SeccompPolicy.sandbox(true), on);
        assertThat(Files.size(off) % 8).isZero();
        assertThat(Files.size(off)).isGreaterThan(8 * 100);
        assertThat(Files.readAllBytes(on)).isNotEqualTo(Files.readAllBytes(off));
        assertThat(Files.getPosixFilePermissions(off)).containsExactlyInAnyOrder(
                java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
    }

    @Test
    void sharedFiltersExistAndDiffer() throws Exception {
        SeccompFilters f = SeccompFilters.shared();
        assertThat(f.enabled()).isTrue();
        assertThat(f.file(false)).isRegularFile();
        assertThat(f.file(true)).isRegularFile().isNotEqualTo(f.file(false));
    }

    @Test
    void offMeansNoFilter() {
        SeccompFilters f = SeccompFilters.create(true);
        assertThat(f.enabled()).isFalse();
        assertThat(f.file(false)).isNull();
    }
}
