package dev.kiln.sandbox;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Compiles a {@link SeccompPolicy} to a classic-BPF program with libseccomp (Debian's libseccomp2, through the FFM
 * API), for the native architecture only: libseccomp then makes every call of another architecture (the i386
 * {@code int 0x80} entry, the x32 syscall bit) take the bad-architecture action, which the policy sets to an errno.
 * The program is what {@code bwrap --seccomp FD} reads.
 */
final class SeccompCompiler {
    static final String MISSING = "libseccomp is not installed: run `apt-get install -y libseccomp2` "
            + "(or start Kiln with " + SeccompFilters.ENV + "=off to run sandboxes without a seccomp filter)";

    private static final int SCMP_ACT_ALLOW = 0x7fff0000;
    private static final int SCMP_FLTATR_ACT_BADARCH = 2;
    private static final int O_WRONLY = 01;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int O_NOFOLLOW = 0400000;
    private static final int O_CLOEXEC = 02000000;
    /** struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a, datum_b; } */
    private static final MemoryLayout ARG_CMP = MemoryLayout.structLayout(JAVA_INT.withName("arg"),
            JAVA_INT.withName("op"), JAVA_LONG.withName("a"), JAVA_LONG.withName("b"));

    private final MethodHandle init;
    private final MethodHandle attrSet;
    private final MethodHandle resolveName;
    private final MethodHandle ruleAddArray;
    private final MethodHandle exportBpf;
    private final MethodHandle release;
    private final MethodHandle open;
    private final MethodHandle close;

    private SeccompCompiler(SymbolLookup seccomp) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        init = handle(linker, seccomp, "seccomp_init", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        attrSet = handle(linker, seccomp, "seccomp_attr_set", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        resolveName = handle(linker, seccomp, "seccomp_syscall_resolve_name", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        ruleAddArray = handle(linker, seccomp, "seccomp_rule_add_array",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        exportBpf = handle(linker, seccomp, "seccomp_export_bpf", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        release = handle(linker, seccomp, "seccomp_release", FunctionDescriptor.ofVoid(ADDRESS));
        open = linker.downcallHandle(libc.find("open").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
        close = handle(linker, libc, "close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor d) {
        return linker.downcallHandle(lookup.find(name).orElseThrow(
                () -> new IllegalStateException(name + " not found in libseccomp: " + MISSING)), d);
    }

    /**
     * Loads libseccomp (once per JVM, kept for its lifetime).
     *
     * @throws IllegalStateException when libseccomp.so.2 cannot be loaded
     */
    static SeccompCompiler load() {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup("libseccomp.so.2", Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(MISSING, e);
        }
        return new SeccompCompiler(lib);
    }

    /** Writes {@code policy}'s BPF program to {@code file} (created, 0600, must not exist). */
    void compile(SeccompPolicy policy, Path file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = (MemorySegment) init.invokeExact(errno(policy.defaultErrno()));
            if (ctx.equals(MemorySegment.NULL)) throw new IOException("seccomp_init failed");
            try {
                check((int) attrSet.invokeExact(ctx, SCMP_FLTATR_ACT_BADARCH, errno(policy.badArchErrno())),
                        "seccomp_attr_set(ACT_BADARCH)");
                for (String name : policy.allowed()) addRule(arena, ctx, new SeccompPolicy.Rule(name, null, java.util.List.of()));
                for (SeccompPolicy.Rule rule : policy.rules()) addRule(arena, ctx, rule);
                export(arena, ctx, file);
            } finally {
                release.invokeExact(ctx);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The syscall's number on this architecture; negative when it has none here (e.g. a 32-bit-only call). */
    int resolve(String name) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            return (int) resolveName.invokeExact(arena.allocateFrom(name));
        }
    }

    private void addRule(Arena arena, MemorySegment ctx, SeccompPolicy.Rule rule) throws Throwable {
        int nr = (int) resolveName.invokeExact(arena.allocateFrom(rule.syscall()));
        if (nr < 0) return; // not a system call of this architecture (libseccomp's __NR_SCMP_ERROR)
        int action = rule.errno() == null ? SCMP_ACT_ALLOW : errno(rule.errno());
        MemorySegment args = arena.allocate(ARG_CMP, Math.max(1, rule.args().size()));
        for (int i = 0; i < rule.args().size(); i++) {
            SeccompPolicy.Arg a = rule.args().get(i);
            MemorySegment cmp = args.asSlice(i * ARG_CMP.byteSize(), ARG_CMP.byteSize());
            cmp.set(JAVA_INT, 0, a.index());
            cmp.set(JAVA_INT, 4, a.op().code);
            // MASKED_EQ: datum_a is the mask, datum_b the value; the others compare with datum_a
            cmp.set(JAVA_LONG, 8, a.op() == SeccompPolicy.Op.MASKED_EQ ? a.mask() : a.value());
            cmp.set(JAVA_LONG, 16, a.op() == SeccompPolicy.Op.MASKED_EQ ? a.value() : 0);
        }
        check((int) ruleAddArray.invokeExact(ctx, action, nr, rule.args().size(), args), "seccomp_rule_add "
                + rule);
    }

    private void export(Arena arena, MemorySegment ctx, Path file) throws Throwable {
        int fd = (int) open.invokeExact(arena.allocateFrom(file.toString()),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) throw new IOException("cannot create " + file);
        int rc;
        try {
            rc = (int) exportBpf.invokeExact(ctx, fd);
        } finally {
            int ignored = (int) close.invokeExact(fd);
        }
        check(rc, "seccomp_export_bpf");
        if (Files.size(file) == 0 || Files.size(file) % 8 != 0) {
            throw new IOException("seccomp_export_bpf wrote " + Files.size(file) + " bytes to " + file);
        }
    }

    private static int errno(int errno) {
        return 0x00050000 | (errno & 0xffff);
    }

    private static void check(int rc, String what) throws IOException {
        if (rc != 0) throw new IOException(what + " failed: " + rc + " (-errno)");
    }
}
