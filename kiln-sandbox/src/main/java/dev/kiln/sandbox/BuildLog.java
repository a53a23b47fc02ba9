package dev.kiln.sandbox;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.function.Consumer;

/**
 * A layer build's log: every line goes to {@code build.log} (up to {@link #MAX_FILE_BYTES}, then only counted) and
 * to the caller's consumer; the last {@link #TAIL_LINES} lines stay in memory for the error message. Lines longer
 * than {@link #MAX_LINE} bytes are cut.
 */
final class BuildLog implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(BuildLog.class);
    static final long MAX_FILE_BYTES = 16L << 20;
    static final int MAX_LINE = 16 << 10;
    static final int TAIL_LINES = 40;

    private final Path file;
    private final BufferedWriter writer;
    private final Consumer<String> consumer;
    private final ArrayDeque<String> tail = new ArrayDeque<>();
    private long written;
    private long dropped;
    private boolean consumerFailed;
    private boolean closed;

    BuildLog(Path file, Consumer<String> consumer) throws IOException {
        this.file = file;
        this.writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, WorkDirLayout.FILE_644);
        this.consumer = consumer == null ? s -> { } : consumer;
    }

    Path file() {
        return file;
    }

    synchronized void line(String text) {
        String line = text.length() > MAX_LINE ? text.substring(0, MAX_LINE) + " [kiln: line cut]" : text;
        long size = line.length() + 1L;
        if (closed) {
            // only the tail and the listener see lines after the file was closed
        } else if (written + size <= MAX_FILE_BYTES) {
            try {
                writer.write(line);
                writer.write('\n');
                written += size;
            } catch (IOException e) {
                dropped++;
            }
        } else {
            dropped++;
        }
        tail.addLast(line);
        if (tail.size() > TAIL_LINES) tail.removeFirst();
        if (!consumerFailed) {
            try {
                consumer.accept(line);
            } catch (RuntimeException e) {
                consumerFailed = true; // a broken listener must not break the build
                log.warn("layer build log listener failed; no more lines go to it: {}", e.toString());
            }
        }
    }

    /** Reads {@code in} to its end, one {@link #line} per line (UTF-8, invalid bytes replaced). */
    void pump(InputStream in) {
        ByteArrayOutputStream current = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        boolean cut = false;
        try (in) {
            int n;
            while ((n = in.read(buf)) != -1) {
                for (int i = 0; i < n; i++) {
                    byte b = buf[i];
                    if (b == '\n') {
                        line(stripCr(current.toString(StandardCharsets.UTF_8)));
                        current.reset();
                        cut = false;
                    } else if (current.size() < MAX_LINE + 1) {
                        current.write(b);
                    } else {
                        cut = true;
                    }
                }
            }
        } catch (IOException e) {
            // the process's pipe closed under us: keep what we have
        }
        if (current.size() > 0 || cut) line(stripCr(current.toString(StandardCharsets.UTF_8)));
    }

    private static String stripCr(String s) {
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    synchronized List<String> tail() {
        return List.copyOf(tail);
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        if (dropped > 0) {
            writer.write("[kiln: " + dropped + " more line(s) not kept: the build log is capped at "
                    + (MAX_FILE_BYTES >> 20) + " MiB]\n");
        }
        writer.flush();
        writer.close();
    }

    /** The last {@code maxChars} characters of a log file ("" when unreadable), marked when cut. */
    static String readTail(Path file, int maxChars) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            if (text.length() <= maxChars) return text;
            return "[kiln: log cut to its last " + maxChars + " characters]\n" + text.substring(text.length() - maxChars);
        } catch (IOException e) {
            return "";
        }
    }
}
