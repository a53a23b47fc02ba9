package dev.kiln.core;

/**
 * Receives a running execution's stdout and stderr as the job writes them, never more than the output caps keep.
 * Called from the executor's reader threads: keep it cheap and never block.
 */
@FunctionalInterface
public interface OutputSink {
    OutputSink NONE = (stream, bytes) -> {
    };

    String STDOUT = "stdout";
    String STDERR = "stderr";

    /** {@code stream} is {@link #STDOUT} or {@link #STDERR}; {@code bytes} belong to the receiver. */
    void output(String stream, byte[] bytes);
}
