package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Python side of the hostile battery: a prelude (ctypes raw syscalls on x86_64) and the probe lines it prints,
 * {@code PROBE <name> ret=<n> errno=<NAME>}, parsed back here.
 */
final class HostileProbes {
    private HostileProbes() {
    }

    /** x86_64 syscall numbers and a {@code sc(nr, *args) -> (ret, errno)} helper; {@code report} prints a probe line. */
    static final String PRELUDE = """
            import ctypes, errno, os, sys, signal, socket, struct, time
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            def _arg(a):
                if a is None: return ctypes.c_void_p(0)
                if isinstance(a, int): return ctypes.c_long(a)
                return a
            def sc(nr, *args):
                ctypes.set_errno(0)
                r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
                return r, (ctypes.get_errno() if r == -1 else 0)
            def report(name, r, e):
                print("PROBE %s ret=%d errno=%s" % (name, r, errno.errorcode.get(e, str(e)) if e else "0"), flush=True)
            def report_exc(name, fn):
                try:
                    fn()
                    report(name, 0, 0)
                except OSError as ex:
                    report(name, -1, ex.errno or 0)
            CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
            def try_userns(extra):
                # what an attacker does first: a nested user namespace grants the capabilities the next call needs
                r, e = sc(272, CLONE_NEWUSER | extra)
                print("NESTED_USERNS %s" % ("gained" if r == 0 else errno.errorcode.get(e, e)), flush=True)
                return r == 0
            """;

    private static final Pattern LINE = Pattern.compile("^PROBE (\\S+) ret=(-?\\d+) errno=(\\S+)$", Pattern.MULTILINE);

    record Probe(String name, long ret, String errno) {
    }

    static List<Probe> parse(String stdout) {
        List<Probe> probes = new ArrayList<>();
        Matcher m = LINE.matcher(stdout);
        while (m.find()) probes.add(new Probe(m.group(1), Long.parseLong(m.group(2)), m.group(3)));
        return probes;
    }

    static Probe probe(ExecutionResult r, String name) {
        return parse(r.stdout()).stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no probe line for " + name + " in\nstdout: " + r.stdout()
                        + "\nstderr: " + r.stderr() + "\nerror: " + r.error()));
    }

    /** The call failed (-1) with one of {@code errnos}. */
    static void assertDenied(ExecutionResult r, String name, String... errnos) {
        Probe p = probe(r, name);
        assertThat(p.ret()).as(name + " must fail: " + p).isEqualTo(-1);
        assertThat(p.errno()).as(name + " errno: " + p).isIn((Object[]) errnos);
    }

    static void assertAllowed(ExecutionResult r, String name) {
        Probe p = probe(r, name);
        assertThat(p.ret()).as(name + " must succeed: " + p).isNotNegative();
    }
}
