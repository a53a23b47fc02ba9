package dev.kiln.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Drains one output stream of the job on a virtual thread, keeping the first {@code cap} bytes and the last
 * {@link #TAIL} bytes. Everything else is read and dropped, so the job never blocks on a full pipe and memory
 * stays flat however much it prints. The tail keeps a Python traceback's last line classifiable after truncation.
 * What is kept is also handed to a live sink as it arrives (never more than the cap).
 */
final class BoundedCapture {
    static final int TAIL = 4096;

    private final InputStream in;
    private final int cap;
    private final String stream;
    private final dev.kiln.core.OutputSink live;
    private final ByteArrayOutputStream head;
    private final byte[] tail = new byte[TAIL];
    private long total;
    private Thread thread;

    BoundedCapture(InputStream in, long cap) {
        this(in, cap, null, dev.kiln.core.OutputSink.NONE);
    }

    /** {@code stream}: the name {@code live} is told ({@code stdout} or {@code stderr}). */
    BoundedCapture(InputStream in, long cap, String stream, dev.kiln.core.OutputSink live) {
        this.in = in;
        this.stream = stream;
        this.live = live;
        this.cap = (int) Math.max(0, Math.min(cap, Integer.MAX_VALUE - 16));
        this.head = new ByteArrayOutputStream(Math.min(this.cap, 8192));
    }

    BoundedCapture start(String name) {
        thread = Thread.ofVirtual().name(name).start(this::drain);
        return this;
    }

    private void drain() {
        byte[] buf = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buf)) != -1) accept(buf, n);
        } catch (IOException e) {
            // stream closed under us (we gave up waiting): keep what we have
        }
    }

    private void accept(byte[] buf, int n) {
        int room = keep(buf, n);
        if (room > 0 && live != dev.kiln.core.OutputSink.NONE) {
            try {
                live.output(stream, java.util.Arrays.copyOf(buf, room));
            } catch (RuntimeException e) {
                // a failing observer must not stop the draining
            }
        }
    }

    /** Keeps the head and the tail; returns how many of the bytes went into the head. */
    private synchronized int keep(byte[] buf, int n) {
        int room = (int) Math.max(0, Math.min(n, cap - total));
        if (room > 0) head.write(buf, 0, room);
        // ring buffer of the last TAIL bytes
        for (int i = Math.max(0, n - TAIL); i < n; i++) tail[(int) ((total + i) % TAIL)] = buf[i];
        total += n;
        return room;
    }

    /** Waits for EOF; on timeout closes the stream so the reader ends. Returns whether EOF was reached. */
    boolean await(Duration timeout) {
        boolean interrupted = false;
        try {
            if (thread.join(timeout)) return true;
        } catch (InterruptedException e) {
            interrupted = true;
        }
        try {
            in.close();
        } catch (IOException ignored) {
            // closing a pipe
        }
        if (interrupted) Thread.currentThread().interrupt();
        return false;
    }

    synchronized boolean truncated() {
        return total > cap;
    }

    synchronized long totalBytes() {
        return total;
    }

    /** The kept prefix, cut before an incomplete UTF-8 sequence, invalid bytes replaced. */
    synchronized String text() {
        byte[] bytes = head.toByteArray();
        int len = truncated() ? Utf8.completePrefixLength(bytes, bytes.length) : bytes.length;
        return new String(bytes, 0, len, StandardCharsets.UTF_8);
    }

    /** The last up to {@link #TAIL} bytes as text (starting at a character boundary). */
    synchronized String tailText() {
        int n = (int) Math.min(total, TAIL);
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) bytes[i] = tail[(int) ((total - n + i) % TAIL)];
        int start = 0;
        while (start < n && start < 3 && Utf8.isContinuation(bytes[start])) start++;
        return new String(bytes, start, n - start, StandardCharsets.UTF_8);
    }

    /** What result classification should look at: everything when complete, else the head and the tail. */
    synchronized String textForClassification() {
        return truncated() ? text() + "\n" + tailText() : text();
    }
}
