package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/** Reading and writing the small text files of cgroupfs. */
final class CgroupFiles {
    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,199}");

    private CgroupFiles() {
    }

    /** Cgroup names become directory names: plain segments only, so nothing can walk out of Kiln's parent. */
    static String checkName(String what, String name) {
        if (name == null || !SAFE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " '" + name + "' must match " + SAFE_NAME.pattern());
        }
        return name;
    }

    /** Never creates the file: cgroupfs files exist or the feature does not. */
    static void write(Path file, String value) throws IOException {
        Files.writeString(file, value, StandardCharsets.US_ASCII, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
    }

    static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.US_ASCII);
    }

    /** The value N of a line "key N" (memory.events, pids.events, memory.oom_control); 0 if absent or unreadable. */
    static long readKeyed(Path file, String key) {
        try {
            for (String line : read(file).split("\n")) {
                String[] parts = line.trim().split("\\s+");
                if (parts.length == 2 && parts[0].equals(key)) return Long.parseLong(parts[1]);
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** The pids in a cgroup.procs file; empty when the file is gone. */
    static List<Long> readPids(Path procs) {
        List<Long> pids = new ArrayList<>();
        try {
            for (String line : read(procs).split("\n")) {
                String s = line.trim();
                if (!s.isEmpty()) pids.add(Long.parseLong(s));
            }
        } catch (IOException | NumberFormatException e) {
            return List.of();
        }
        return pids;
    }

    /** SIGKILL to one pid (any process, not only our children); never ourselves. */
    static void kill(long pid) {
        if (pid == ProcessHandle.current().pid()) return;
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** {@link #sleepQuietlyNanos} in milliseconds. */
    static void sleepQuietly(long millis) {
        sleepQuietlyNanos(TimeUnit.MILLISECONDS.toNanos(millis));
    }

    /**
     * Sleeps the full time even when interrupted (cleanup must finish; an interrupted loop would spin), then
     * restores the interrupt flag.
     */
    static void sleepQuietlyNanos(long nanos) {
        long deadline = System.nanoTime() + nanos;
        boolean interrupted = false;
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    static List<String> childDirectories(Path dir) {
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(dir)) return names;
        try (var stream = Files.list(dir)) {
            stream.filter(Files::isDirectory).forEach(p -> names.add(p.getFileName().toString()));
        } catch (IOException e) {
            return names;
        }
        names.sort(null);
        return names;
    }
}
