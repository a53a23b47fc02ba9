package dev.kiln.cli.bench.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** CPU time and resident memory of a process, read from {@code /proc} (Linux only). */
public final class ProcStats {
    private static volatile long ticksPerSecond;

    private ProcStats() {
    }

    /** CPU time of a process in clock ticks: in user mode and in the kernel. */
    public record CpuTicks(long user, long system) {
        public long total() {
            return user + system;
        }

        public CpuTicks minus(CpuTicks earlier) {
            return new CpuTicks(user - earlier.user, system - earlier.system);
        }
    }

    /** utime and stime of {@code pid} in clock ticks ({@code /proc/<pid>/stat} fields 14 and 15). */
    public static CpuTicks cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
        // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        return new CpuTicks(Long.parseLong(f[11]), Long.parseLong(f[12])); // fields 14 and 15; f[0] is field 3
    }

    /** VmRSS of {@code pid} in KiB ({@code /proc/<pid>/status}). */
    public static long rssKib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }

    /** Open file descriptors of {@code pid} (entries of {@code /proc/<pid>/fd}); -1 when unreadable. */
    public static long openFiles(long pid) {
        try (var s = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            return s.count();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The kernel's USER_HZ ({@code getconf CLK_TCK}); 100 when it cannot be asked. */
    public static long clockTicksPerSecond() {
        long t = ticksPerSecond;
        if (t > 0) return t;
        t = 100;
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) t = Long.parseLong(out);
        } catch (IOException | NumberFormatException e) {
            // keep 100, the value on every common Linux build
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ticksPerSecond = t;
        return t;
    }

    /** The soft limit on open files of this process ({@code /proc/self/limits}); -1 when unknown. */
    public static long maxOpenFiles() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }
}
