package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short host tool (mount, umount) of Kiln's own and reports its exit code and combined output. */
final class HostCommand {
    record Outcome(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    private HostCommand() {
    }

    static Outcome run(List<String> command, Duration timeout) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            // the tools print at most a line or two, so reading after exit cannot deadlock
            if (!awaitUninterruptibly(p, timeout)) {
                p.destroyForcibly();
                awaitUninterruptibly(p, timeout);
                return new Outcome(-1, String.join(" ", command) + " timed out");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return new Outcome(p.exitValue(), out);
        } catch (IOException e) {
            return new Outcome(-1, e.toString());
        }
    }

    /** An interrupt must not leave a mount behind: wait anyway, then restore the flag. */
    private static boolean awaitUninterruptibly(Process p, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** Waits for the process to exit even when interrupted; returns whether the thread was interrupted meanwhile. */
    static boolean awaitUninterruptibly(Process process) {
        boolean interrupted = false;
        while (true) {
            try {
                process.waitFor();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }
}
