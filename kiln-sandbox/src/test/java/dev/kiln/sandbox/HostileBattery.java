package dev.kiln.sandbox;

import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.sandbox.HostileProbes.PRELUDE;
import static dev.kiln.sandbox.HostileProbes.assertAllowed;
import static dev.kiln.sandbox.HostileProbes.assertDenied;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What hostile code tries from inside a sandbox, run on "the executor under test" ({@link #run}): each probe makes
 * the call itself (ctypes, raw syscall numbers of x86_64) and prints what the kernel answered; the job itself must
 * survive (a denied call fails with EPERM/ENOSYS, it never kills the job). Subclasses: cold and warm bwrap runs,
 * layer builds ({@link LayerBuildHostileBatteryTest}, the probes run by a build backend), and later gVisor. Probes
 * that concern {@code /output} or two jobs at once live in {@link JobHostileBattery}.
 */
@Timeout(60)
abstract class HostileBattery {
    /** Runs {@code python} (a whole main.py) in the executor under test on a job type without network. */
    protected abstract ExecutionResult run(String python) throws Exception;

    /** Runs the probe; the job must have finished normally (its denied calls did not kill it). */
    protected ExecutionResult probe(String body) throws Exception {
        ExecutionResult r = run(PRELUDE + body + "\nprint('SURVIVED', flush=True)\n");
        assertThat(r.status()).as("the job survives its probes: " + r.error() + "\nstdout: " + r.stdout()
                + "\nstderr: " + r.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).contains("SURVIVED");
        return r;
    }

    @Test
    void nestedUserNamespaceCannotBeCreated() throws Exception {
        ExecutionResult r = probe("""
                r, e = sc(272, CLONE_NEWUSER); report("unshare_newuser", r, e)
                r, e = sc(272, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET); report("unshare_newuser_ns_net", r, e)
                # clone(2) with CLONE_NEWUSER|SIGCHLD: a fork whose child would own a new user namespace
                r, e = sc(56, CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
                if r == 0: os._exit(0)
                if r > 0: os.waitpid(r, 0)
                report("clone_newuser", -1 if r < 0 else r, e)
                # clone3 with the same flags: refused outright (ENOSYS, so libc falls back to clone and its checks)
                args = struct.pack("QQQQQQQQQQQ", CLONE_NEWUSER, 0, 0, 0, signal.SIGCHLD, 0, 0, 0, 0, 0, 0)
                buf = ctypes.create_string_buffer(args, len(args))
                r, e = sc(435, buf, len(args))
                if r == 0: os._exit(0)
                if r > 0: os.waitpid(r, 0)
                report("clone3_newuser", -1 if r < 0 else r, e)
                r, e = sc(308, os.open("/proc/self/ns/user", os.O_RDONLY), 0); report("setns", r, e)
                """);
        assertDenied(r, "unshare_newuser", "EPERM");
        assertDenied(r, "unshare_newuser_ns_net", "EPERM");
        assertDenied(r, "clone_newuser", "EPERM");
        assertDenied(r, "clone3_newuser", "ENOSYS");
        assertDenied(r, "setns", "EPERM", "EINVAL");
    }

    @Test
    void ordinaryProcessesThreadsAndSocketsStillWork() throws Exception {
        ExecutionResult r = probe("""
                import subprocess, threading, multiprocessing, asyncio
                report("subprocess", subprocess.run(["/bin/true"]).returncode, 0)
                out = []
                t = threading.Thread(target=lambda: out.append(1)); t.start(); t.join()
                report("thread", 0 if out == [1] else -1, 0)
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    report("multiprocessing", 0 if pool.map(abs, [-1, -2]) == [1, 2] else -1, 0)
                a, b = socket.socketpair(); a.send(b"x"); report("socketpair", 0 if b.recv(1) == b"x" else -1, 0)
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind(("127.0.0.1", 0)); s.close()
                report("af_inet", 0, 0)
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.close(); report("af_inet6", 0, 0)
                report("asyncio", asyncio.run(asyncio.sleep(0, result=0)), 0)
                r, e = sc(135, 0xffffffff); report("personality_query", r, e)
                """);
        for (String name : new String[]{"subprocess", "thread", "multiprocessing", "socketpair", "af_inet",
                "af_inet6", "asyncio", "personality_query"}) {
            assertAllowed(r, name);
        }
    }

    @Test
    void ioUringUserfaultfdBpfAndPerfAreDenied() throws Exception {
        ExecutionResult r = probe("""
                params = ctypes.create_string_buffer(120)
                r, e = sc(425, 4, params); report("io_uring_setup", r, e)
                r, e = sc(323, 1); report("userfaultfd", r, e)  # UFFD_USER_MODE_ONLY: allowed unprivileged
                attr = ctypes.create_string_buffer(struct.pack("IIII", 1, 4, 4, 1), 128)  # BPF_MAP_TYPE_HASH
                r, e = sc(321, 0, attr, 128); report("bpf", r, e)
                # PERF_TYPE_SOFTWARE / CPU_CLOCK on ourselves, user space only: allowed at perf_event_paranoid 2
                pattr = ctypes.create_string_buffer(struct.pack("IIQQQQ", 1, 128, 0, 0, 0, (1 << 5) | (1 << 6)), 128)
                r, e = sc(298, pattr, 0, -1, -1, 0); report("perf_event_open", r, e)
                """);
        assertDenied(r, "io_uring_setup", "EPERM");
        assertDenied(r, "userfaultfd", "EPERM");
        assertDenied(r, "bpf", "EPERM");
        assertDenied(r, "perf_event_open", "EPERM");
    }

    @Test
    void keyringsAreDenied() throws Exception {
        ExecutionResult r = probe("""
                r, e = sc(250, 0, -3, 1); report("keyctl", r, e)  # KEYCTL_GET_KEYRING_ID session, create
                r, e = sc(248, b"user", b"kiln-probe", b"x", 1, -2); report("add_key", r, e)
                r, e = sc(249, b"user", b"kiln-probe", None, 0); report("request_key", r, e)
                """);
        assertDenied(r, "keyctl", "EPERM");
        assertDenied(r, "add_key", "EPERM");
        assertDenied(r, "request_key", "EPERM");
    }

    @Test
    void ptraceIsDenied() throws Exception {
        ExecutionResult r = probe("""
                rd, wr = os.pipe()
                pid = os.fork()
                if pid == 0:
                    r, e = sc(101, 0, 0, 0, 0)  # PTRACE_TRACEME
                    os.write(wr, struct.pack("qi", r, e)); os._exit(0)
                os.waitpid(pid, 0)
                r, e = struct.unpack("qi", os.read(rd, 12)); report("ptrace_traceme", r, e)
                victim = os.fork()
                if victim == 0:
                    time.sleep(30); os._exit(0)
                # a sibling of the victim tries first, then the victim's parent: PTRACE_ATTACH
                sib_r, sib_w = os.pipe()
                attacker = os.fork()
                if attacker == 0:
                    r, e = sc(101, 16, victim, 0, 0)
                    os.write(sib_w, struct.pack("qi", r, e)); os._exit(0)
                os.waitpid(attacker, 0)
                r, e = struct.unpack("qi", os.read(sib_r, 12)); report("ptrace_attach_sibling", r, e)
                r, e = sc(101, 16, victim, 0, 0); report("ptrace_attach", r, e)
                os.kill(victim, signal.SIGKILL); os.waitpid(victim, 0)
                """);
        assertDenied(r, "ptrace_traceme", "EPERM");
        assertDenied(r, "ptrace_attach_sibling", "EPERM");
        assertDenied(r, "ptrace_attach", "EPERM");
    }

    @Test
    void mountIsDeniedEvenAfterTryingANestedNamespace() throws Exception {
        ExecutionResult r = probe("""
                try_userns(CLONE_NEWNS)
                os.makedirs("/tmp/m", exist_ok=True)
                r, e = sc(165, b"none", b"/tmp/m", b"tmpfs", 0, None); report("mount", r, e)
                r, e = sc(166, b"/tmp", 2); report("umount2", r, e)  # MNT_DETACH
                r, e = sc(430, b"tmpfs", 0); report("fsopen", r, e)
                r, e = sc(428, -100, b"/tmp", 1); report("open_tree", r, e)  # OPEN_TREE_CLONE
                r, e = sc(155, b"/tmp", b"/tmp/m"); report("pivot_root", r, e)
                """);
        for (String name : new String[]{"mount", "umount2", "fsopen", "open_tree", "pivot_root"}) {
            assertDenied(r, name, "EPERM");
        }
    }

    @Test
    void packetAndNetlinkSocketsAreDenied() throws Exception {
        ExecutionResult r = probe("""
                try_userns(CLONE_NEWNET)
                report_exc("af_packet", lambda: socket.socket(17, socket.SOCK_RAW, 0).close())
                report_exc("af_netlink_route", lambda: socket.socket(16, socket.SOCK_RAW, 0).close())
                report_exc("af_netlink_uevent", lambda: socket.socket(16, socket.SOCK_RAW, 15).close())
                report_exc("af_vsock", lambda: socket.socket(40, socket.SOCK_STREAM, 0).close())
                """);
        assertDenied(r, "af_packet", "EPERM");
        assertDenied(r, "af_netlink_route", "EPERM");
        assertDenied(r, "af_netlink_uevent", "EPERM");
        assertDenied(r, "af_vsock", "EPERM");
    }

    @Test
    void noCoreDumpEver() throws Exception {
        ExecutionResult r = probe("""
                import resource
                soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
                report("core_limit_zero", 0 if (soft, hard) == (0, 0) else -1, 0)
                try:
                    resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20)); report("core_limit_raise", 0, 0)
                except (ValueError, OSError):  # "not allowed to raise maximum limit"
                    report("core_limit_raise", -1, errno.EPERM)
                pid = os.fork()
                if pid == 0:
                    try: resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
                    except (ValueError, OSError): pass
                    os.chdir("/tmp"); os.kill(os.getpid(), signal.SIGSEGV); os._exit(1)
                _, status = os.waitpid(pid, 0)
                report("core_dumped", -1 if os.WCOREDUMP(status) else 0, 0)
                time.sleep(0.2)
                cores = [f for d in ("/tmp", "/output", "/input", "/") if os.access(d, os.R_OK)
                         for f in os.listdir(d) if f.startswith("core")]
                report("core_files", -1 if cores else 0, 0)
                print("CORES", cores)
                """);
        assertAllowed(r, "core_limit_zero");
        assertDenied(r, "core_limit_raise", "EPERM");
        assertAllowed(r, "core_dumped");
        assertAllowed(r, "core_files");
    }

    @Test
    void terminalInjectionIsDenied() throws Exception {
        ExecutionResult r = probe("""
                import fcntl
                report_exc("tiocsti", lambda: fcntl.ioctl(0, 0x5412, b"x"))
                report_exc("tioclinux", lambda: fcntl.ioctl(0, 0x541C, b"\\x02"))
                # high bits set: the kernel truncates the request to 32 bits, the filter must too
                r, e = sc(16, 0, 0x100005412, ctypes.create_string_buffer(b"x")); report("tiocsti_high_bits", r, e)
                report_exc("fionread", lambda: fcntl.ioctl(os.pipe()[0], 0x541B, b"\\0\\0\\0\\0"))
                """);
        assertDenied(r, "tiocsti", "EPERM");
        assertDenied(r, "tioclinux", "EPERM");
        assertDenied(r, "tiocsti_high_bits", "EPERM");
        assertAllowed(r, "fionread");
    }

    @Test
    void procSysAndSysAreNotWritable() throws Exception {
        Path corePattern = Path.of("/proc/sys/kernel/core_pattern");
        String before = Files.readString(corePattern);
        ExecutionResult r = probe("""
                def write(path, data):
                    with open(path, "w") as f: f.write(data)
                report_exc("proc_sys_core_pattern", lambda: write("/proc/sys/kernel/core_pattern", "|/tmp/x"))
                report_exc("proc_sys_hostname", lambda: write("/proc/sys/kernel/hostname", "pwned"))
                report_exc("proc_sysrq_trigger", lambda: write("/proc/sysrq-trigger", "h"))
                report_exc("sys_uevent_helper", lambda: write("/sys/kernel/uevent_helper", "/tmp/x"))
                report_exc("sys_fs_cgroup", lambda: write("/sys/fs/cgroup/cgroup.procs", "1"))
                """);
        for (String name : new String[]{"proc_sys_core_pattern", "proc_sys_hostname", "proc_sysrq_trigger",
                "sys_uevent_helper", "sys_fs_cgroup"}) {
            assertDenied(r, name, "EROFS", "EACCES", "EPERM", "ENOENT");
        }
        assertThat(Files.readString(corePattern)).isEqualTo(before);
    }

    @Test
    void foreignArchitectureSyscallsAreDenied() throws Exception {
        ExecutionResult r = probe("""
                import mmap
                # the i386 entry point from 64-bit code: mov eax, 20 (getpid); int 0x80; ret
                code = b"\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3"
                m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
                m.write(code)
                addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
                ret = ctypes.CFUNCTYPE(ctypes.c_int)(addr)()
                report("int80_getpid", -1 if ret < 0 else ret, -ret if ret < 0 else 0)
                r, e = sc(0x40000000 + 39); report("x32_getpid", r, e)  # __X32_SYSCALL_BIT | getpid
                r, e = sc(135, 0x0040000); report("personality_no_randomize", r, e)  # ADDR_NO_RANDOMIZE
                """);
        assertDenied(r, "int80_getpid", "ENOSYS", "EPERM");
        assertDenied(r, "x32_getpid", "ENOSYS", "EPERM");
        assertDenied(r, "personality_no_randomize", "EPERM");
    }

    @Test
    void kernelModulesKexecAndHandlesAreDenied() throws Exception {
        ExecutionResult r = probe("""
                r, e = sc(313, -1, b"", 0); report("finit_module", r, e)
                r, e = sc(175, None, 0, b""); report("init_module", r, e)
                r, e = sc(176, b"loop", 0); report("delete_module", r, e)
                r, e = sc(246, 0, 0, None, 0); report("kexec_load", r, e)
                h = ctypes.create_string_buffer(struct.pack("II", 8, 1) + b"\\0" * 8, 16)
                r, e = sc(304, os.open("/", os.O_RDONLY), h, 0); report("open_by_handle_at", r, e)
                """);
        for (String name : new String[]{"finit_module", "init_module", "delete_module", "kexec_load",
                "open_by_handle_at"}) {
            // ENOSYS: a kernel built without modules or kexec answers so before any filter
            assertDenied(r, name, "EPERM", "ENOSYS");
        }
    }

    /** For probes a layer build cannot run (no {@code /output}, no second job). */
    protected static void assumeJob(boolean job, String what) {
        assumeTrue(job, what);
    }
}
