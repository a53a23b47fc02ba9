package dev.kiln.sandbox;

import java.util.ArrayList;
import java.util.List;

/**
 * The seccomp policy of every sandbox that runs user code (cold and warm jobs, layer builds), as data; compiled to
 * BPF by {@link SeccompCompiler}. An allow-list: every system call not named here fails with {@code EPERM}, a call
 * of a foreign architecture (the i386 {@code int 0x80} entry, x32) with {@code ENOSYS}. Nothing kills the process.
 * <p>
 * The list is Docker's default profile (moby/profiles, seccomp/default.json, amd64, as for a container without
 * capabilities) minus {@code ptrace}, {@code process_vm_readv}/{@code process_vm_writev} (Docker allows them from
 * kernel 4.8), with narrower argument rules: {@code socket} only for AF_UNIX, AF_INET, AF_INET6 (plus
 * AF_NETLINK/NETLINK_ROUTE when the sandbox has the network), {@code ioctl} without TIOCSTI/TIOCLINUX (terminal
 * input injection; {@code --new-session} already leaves no controlling terminal, this is the second line), and
 * {@code clone} without namespace flags. {@link #DENIED} names what hostile code reaches for and why it is absent.
 */
final class SeccompPolicy {
    static final int EPERM = 1;
    static final int ENOSYS = 38;

    /** libseccomp's comparison operators ({@code enum scmp_compare}). */
    enum Op {
        NE(1), EQ(4), MASKED_EQ(7);

        final int code;

        Op(int code) {
            this.code = code;
        }
    }

    /** {@code (arg[index] & mask) op value}; {@code mask} only for {@link Op#MASKED_EQ}. */
    record Arg(int index, Op op, long mask, long value) {
        static Arg eq(int index, long value) {
            return new Arg(index, Op.EQ, 0, value);
        }

        static Arg maskedEq(int index, long mask, long value) {
            return new Arg(index, Op.MASKED_EQ, mask, value);
        }
    }

    /** {@code errno} null: allow when all {@code args} hold; else fail with that errno when they all hold. */
    record Rule(String syscall, Integer errno, List<Arg> args) {
        static Rule allow(String syscall, Arg... args) {
            return new Rule(syscall, null, List.of(args));
        }

        static Rule fail(String syscall, int errno, Arg... args) {
            return new Rule(syscall, errno, List.of(args));
        }
    }

    /** Docker's unconditional allow-list (amd64), less what {@link #DENIED} takes out. */
    static final List<String> ALLOWED = List.of(
            "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset",
            "chdir", "chmod", "chown", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
            "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
            "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
            "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
            "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
            "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
            "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
            "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
            "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
            "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "get_robust_list", "getrusage",
            "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr",
            "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
            "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
            "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr",
            "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "lremovexattr",
            "lseek", "lsetxattr", "lstat", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
            "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall",
            "mmap", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend",
            "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
            "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2",
            "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
            "pkey_mprotect", "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
            "process_mrelease", "pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
            "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg", "remap_file_pages", "removexattr",
            "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
            "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
            "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
            "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
            "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
            "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto",
            "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority", "setregid",
            "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list", "setsid", "setsockopt",
            "set_thread_area", "set_tid_address", "setuid", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
            "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice", "stat", "statfs",
            "statmount", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee",
            "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime",
            "timerfd_create", "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask", "uname",
            "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4",
            "waitid", "write", "writev",
            // amd64 only in Docker's list
            "arch_prctl", "modify_ldt");

    /** What hostile code reaches for, with why it stays out: documentation, and checked against {@link #ALLOWED}. */
    static final List<String> DENIED = List.of(
            // new kernel attack surface reachable without privileges
            "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "bpf", "perf_event_open",
            // kernel keyrings: not namespaced, shared with the host user
            "keyctl", "add_key", "request_key",
            // another process's memory and registers
            "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
            // mounts and the new mount API
            "mount", "umount2", "pivot_root", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "open_tree",
            "mount_setattr", "chroot",
            // namespaces (clone is allowed without namespace flags; clone3 answers ENOSYS so libc falls back)
            "unshare", "setns", "clone3",
            // the kernel itself
            "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
            "swapoff", "syslog", "acct", "quotactl", "quotactl_fd", "lookup_dcookie", "iopl", "ioperm",
            "settimeofday", "clock_settime", "sethostname", "setdomainname", "fanotify_init", "nfsservctl",
            "vhangup", "uselib", "ustat", "sysfs", "_sysctl",
            // file handles bypass path permissions (the "shocker" escape)
            "open_by_handle_at");

    /** clone(2) flags that make a namespace: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (Docker's). */
    static final long CLONE_NAMESPACE_FLAGS = 0x7E020000L;
    static final long TIOCSTI = 0x5412;
    static final long TIOCLINUX = 0x541C;
    private static final long UINT_MASK = 0xFFFF_FFFFL;
    static final int AF_UNIX = 1;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int AF_NETLINK = 16;
    static final int NETLINK_ROUTE = 0;
    /** Docker's harmless personality(2) values: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query. */
    static final List<Long> PERSONALITIES = List.of(0x0L, 0x8L, 0x20000L, 0x20008L, 0xFFFF_FFFFL);

    private final List<String> allowed;
    private final List<Rule> rules;

    private SeccompPolicy(List<String> allowed, List<Rule> rules) {
        this.allowed = allowed;
        this.rules = rules;
    }

    /** The sandbox profile; {@code network}: the sandbox has a network, so netlink route sockets are allowed. */
    static SeccompPolicy sandbox(boolean network) {
        List<Rule> rules = new ArrayList<>();
        for (long p : PERSONALITIES) rules.add(Rule.allow("personality", Arg.eq(0, p)));
        rules.add(Rule.allow("clone", Arg.maskedEq(0, CLONE_NAMESPACE_FLAGS, 0)));
        rules.add(Rule.fail("clone3", ENOSYS));
        rules.addAll(allowExcept("ioctl", 1, List.of(TIOCSTI, TIOCLINUX)));
        for (int family : List.of(AF_UNIX, AF_INET, AF_INET6)) rules.add(Rule.allow("socket", Arg.eq(0, family)));
        if (network) rules.add(Rule.allow("socket", Arg.eq(0, AF_NETLINK), Arg.eq(2, NETLINK_ROUTE)));
        return new SeccompPolicy(ALLOWED, List.copyOf(rules));
    }

    /**
     * Rules allowing {@code syscall} for every value of its 32-bit argument {@code index} except {@code excluded}
     * (which then meet the default action). The kernel truncates such an argument (ioctl's request is an
     * {@code unsigned int}), so only its low 32 bits are compared, or high bits set by the caller would slip past.
     * libseccomp has no "not masked-equal" and lets an unconditional allow win over a conditional errno, so the
     * complement is spelled out: one rule per bit on which all excluded values agree (a value differing there is
     * none of them), plus the exact values that agree on all those bits and are not excluded.
     */
    static List<Rule> allowExcept(String syscall, int index, List<Long> excluded) {
        long first = excluded.getFirst();
        long common = UINT_MASK;
        for (long v : excluded) common &= ~(v ^ first);
        List<Rule> rules = new ArrayList<>();
        for (int bit = 0; bit < 32; bit++) {
            long b = 1L << bit;
            if ((common & b) != 0) rules.add(Rule.allow(syscall, Arg.maskedEq(index, b, ~first & b)));
        }
        long free = UINT_MASK & ~common;
        if (Long.bitCount(free) > 4) throw new IllegalArgumentException("excluded values too far apart: " + excluded);
        // every value of the free bits (subsets of 'free'), on top of the common bits
        for (long sub = free; ; sub = (sub - 1) & free) {
            long v = (first & common) | sub;
            if (!excluded.contains(v)) rules.add(Rule.allow(syscall, Arg.maskedEq(index, UINT_MASK, v)));
            if (sub == 0) break;
        }
        return rules;
    }

    List<String> allowed() {
        return allowed;
    }

    List<Rule> rules() {
        return rules;
    }

    int defaultErrno() {
        return EPERM;
    }

    /** For the i386 and x32 entry points of an x86_64 kernel: libc has no fallback to make, the call just fails. */
    int badArchErrno() {
        return ENOSYS;
    }
}
