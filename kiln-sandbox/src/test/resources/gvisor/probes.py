# Hostile probes: each kernel surface a job might attack, one line per probe "name: outcome".
import ctypes, errno, os, resource, signal, socket, fcntl, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(*args):
    r = libc.syscall(*[ctypes.c_long(a) for a in args])
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def report(name, outcome):
    print(f"{name}: {outcome}", flush=True)
def child(fn):
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(fn())
        except BaseException as e:
            print("child", type(e).__name__, e, flush=True)
            os._exit(99)
    return os.waitpid(pid, 0)[1]
# nested user namespace, then what it would grant (mount) inside it
def userns():
    r = sc(272, 0x10000000)  # unshare(CLONE_NEWUSER)
    if r != "ok":
        print("userns: " + r, flush=True); return 0
    try:
        open("/proc/self/setgroups", "w").write("deny")
        open("/proc/self/uid_map", "w").write("0 65534 1")
        m = sc(165, ctypes.addressof(ctypes.create_string_buffer(b"none")), ctypes.addressof(ctypes.create_string_buffer(b"/tmp")), ctypes.addressof(ctypes.create_string_buffer(b"tmpfs")), 0, 0)
    except OSError as e:
        m = "map " + type(e).__name__
    print("userns: ok, then mount: " + m, flush=True); return 0
child(userns)
params = ctypes.create_string_buffer(120)
report("io_uring_setup", sc(425, 4, ctypes.addressof(params)))
report("keyctl", sc(250, 0, -3, 0))          # KEYCTL_GET_KEYRING_ID of the session keyring
report("add_key", sc(248, ctypes.addressof(ctypes.create_string_buffer(b"user")), ctypes.addressof(ctypes.create_string_buffer(b"kiln")), ctypes.addressof(ctypes.create_string_buffer(b"x")), 1, -3))
attr = ctypes.create_string_buffer(128)
report("bpf", sc(321, 5, ctypes.addressof(attr), 128))  # BPF_PROG_LOAD
pattr = ctypes.create_string_buffer(128); struct.pack_into("IIQ", pattr, 0, 1, 128, 0)  # software, cpu clock
report("perf_event_open", sc(298, ctypes.addressof(pattr), 0, -1, -1, 0))
victim = os.fork()
if victim == 0:
    import time; time.sleep(5); os._exit(0)
report("ptrace_attach_child", sc(101, 16, victim, 0, 0))  # PTRACE_ATTACH
os.kill(victim, signal.SIGKILL); os.waitpid(victim, 0)
report("mount", sc(165, ctypes.addressof(ctypes.create_string_buffer(b"none")), ctypes.addressof(ctypes.create_string_buffer(b"/tmp")), ctypes.addressof(ctypes.create_string_buffer(b"tmpfs")), 0, 0))
try:
    socket.socket(17, socket.SOCK_RAW, 0).close(); report("af_packet", "ok")
except OSError as e:
    report("af_packet", errno.errorcode.get(e.errno, str(e.errno)))
report("core_rlimit", resource.getrlimit(resource.RLIMIT_CORE))
st = child(lambda: os.abort())
report("abort", f"signal {os.WTERMSIG(st)} core {os.WCOREDUMP(st)} files {sorted(f for d in ('/tmp', '/output', '/input') for f in os.listdir(d) if 'core' in f)}")
try:
    fcntl.ioctl(0, 0x5412, b"x"); report("tiocsti", "ok")
except OSError as e:
    report("tiocsti", errno.errorcode.get(e.errno, str(e.errno)))
for path in ("/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/fs/cgroup/cgroup.procs"):
    try:
        with open(path, "w") as f: f.write("1")
        report("write " + path, "ok")
    except OSError as e:
        report("write " + path, errno.errorcode.get(e.errno, str(e.errno)))
