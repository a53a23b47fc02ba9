package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs runsc with its stdout and stderr on socket pairs and copies them to its own (Kiln's pipes). runsc 2022 hands
 * the container a host pipe as stdout/stderr and drops what does not fit once the pipe is full (a 10 MiB write
 * arrives as 64 KiB, and the write reports success); on a socket it blocks as it should. The relay is Kiln's own code
 * run by the host's interpreter in isolated mode, inside the execution's cgroup; it exits with runsc's exit code
 * (128 + n for a signal).
 */
final class StdioRelay {
    static final String SCRIPT = String.join("\n",
            "import os, socket, subprocess, sys, threading",
            "pairs = [socket.socketpair() for _ in range(2)]",
            "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=pairs[0][1], stderr=pairs[1][1])",
            "for _, theirs in pairs: theirs.close()",
            "def pump(sock, fd):",
            "    while True:",
            "        data = sock.recv(65536)",
            "        if not data: return",
            "        view = memoryview(data)",
            "        while view:",
            "            view = view[os.write(fd, view):]",
            "threads = [threading.Thread(target=pump, args=(pairs[i][0], 1 + i)) for i in range(2)]",
            "for t in threads: t.start()",
            "rc = p.wait()",
            "for t in threads: t.join()",
            "sys.exit(rc if rc >= 0 else 128 - rc)",
            "");

    private StdioRelay() {
    }

    /** {@code python -I -S -c SCRIPT command...}. */
    static List<String> wrap(Path python, List<String> command) {
        List<String> argv = new ArrayList<>(List.of(python.toString(), "-I", "-S", "-c", SCRIPT));
        argv.addAll(command);
        return argv;
    }
}
