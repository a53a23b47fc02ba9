package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs runsc with its stdout and stderr on socket pairs and copies them to its own (Kiln's pipes). runsc 2022 hands
 * the container a host pipe as stdout/stderr and drops what does not fit once the pipe is full (a 10 MiB write
 * arrives as 64 KiB, and the write reports success); on a socket it blocks as it should. The relay is Kiln's own code
 * run by the host's interpreter in isolated mode, inside the execution's cgroup; it exits with runsc's exit code
 * (128 + n for a signal). Only built-in modules (no subprocess, threading or socket.py): each import is start-up
 * time of every gVisor job.
 */
final class StdioRelay {
    static final String SCRIPT = String.join("\n",
            "import os, sys, _socket, _thread",
            "pairs = [_socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM) for _ in range(2)]",
            "pid = os.fork()",
            "if pid == 0:",
            "    try:",
            "        null = os.open(\"/dev/null\", os.O_RDONLY)",
            "        os.dup2(null, 0)",
            "        os.dup2(pairs[0][1].fileno(), 1)",
            "        os.dup2(pairs[1][1].fileno(), 2)",
            "        os.closerange(3, 1 << 16)",
            "        os.execv(sys.argv[1], sys.argv[1:])",
            "    finally:",
            "        os._exit(127)",
            "for _, theirs in pairs: theirs.close()",
            "done = [_thread.allocate_lock() for _ in range(2)]",
            "def pump(i):",
            "    sock = pairs[i][0]",
            "    try:",
            "        while True:",
            "            data = sock.recv(65536)",
            "            if not data: return",
            "            view = memoryview(data)",
            "            while view:",
            "                view = view[os.write(1 + i, view):]",
            "    finally:",
            "        done[i].release()",
            "for i in range(2):",
            "    done[i].acquire()",
            "    _thread.start_new_thread(pump, (i,))",
            "status = os.waitpid(pid, 0)[1]",
            "for lock in done: lock.acquire()",
            "sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))",
            "");

    private StdioRelay() {
    }

    /** {@code python -I -S -c SCRIPT command...}; {@code command}'s first element must be an absolute path. */
    static List<String> wrap(Path python, List<String> command) {
        List<String> argv = new ArrayList<>(List.of(python.toString(), "-I", "-S", "-c", SCRIPT));
        argv.addAll(command);
        return argv;
    }
}
