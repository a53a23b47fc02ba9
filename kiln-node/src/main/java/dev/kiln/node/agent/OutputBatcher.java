package dev.kiln.node.agent;

import dev.kiln.node.protocol.NodeMessage;
import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Coalesces executions' live output into {@code output} messages: a job that prints a byte at a time would
 * otherwise cost the orchestrator a frame per byte. A stream's bytes go out when 8 KiB have gathered or 50 ms
 * after the first, and always before the execution's result ({@link #flush}).
 */
final class OutputBatcher {
    static final int MAX_BYTES = 8 * 1024;
    static final long DELAY_MILLIS = 50;

    private final ScheduledExecutorService timer;
    private final Consumer<NodeMessage.Output> send;
    // execution id + stream -> bytes not sent yet, in arrival order
    private final Map<String, Pending> pending = new LinkedHashMap<>();

    private record Pending(String executionId, String stream, ByteArrayOutputStream bytes) {
    }

    OutputBatcher(ScheduledExecutorService timer, Consumer<NodeMessage.Output> send) {
        this.timer = timer;
        this.send = send;
    }

    void add(String executionId, String stream, byte[] bytes) {
        NodeMessage.Output ready = null;
        synchronized (this) {
            String key = executionId + "\n" + stream;
            Pending p = pending.get(key);
            if (p == null) {
                p = new Pending(executionId, stream, new ByteArrayOutputStream());
                pending.put(key, p);
                timer.schedule(() -> flushKey(key), DELAY_MILLIS, TimeUnit.MILLISECONDS);
            }
            p.bytes().writeBytes(bytes);
            if (p.bytes().size() >= MAX_BYTES) ready = take(key);
        }
        if (ready != null) send.accept(ready);
    }

    /** Sends what is gathered for the execution now (before its result). */
    void flush(String executionId) {
        for (String stream : new String[]{"stdout", "stderr"}) flushKey(executionId + "\n" + stream);
    }

    private void flushKey(String key) {
        NodeMessage.Output ready;
        synchronized (this) {
            ready = take(key);
        }
        if (ready != null) send.accept(ready);
    }

    private NodeMessage.Output take(String key) {
        Pending p = pending.remove(key);
        if (p == null || p.bytes().size() == 0) return null;
        return new NodeMessage.Output(p.executionId(), p.stream(), p.bytes().toByteArray());
    }
}
