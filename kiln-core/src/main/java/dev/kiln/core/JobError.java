package dev.kiln.core;

import java.util.Objects;

/**
 * A job's error: what kind, a human message, and the phase it happened in
 * ({@code setup}, {@code compile}, {@code execution}, {@code output}, {@code queue}).
 */
public record JobError(ErrorType type, String message, String phase) {
    public static final String PHASE_SETUP = "setup";
    public static final String PHASE_COMPILE = "compile";
    public static final String PHASE_EXECUTION = "execution";
    public static final String PHASE_OUTPUT = "output";
    public static final String PHASE_QUEUE = "queue";

    public JobError {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(phase, "phase");
    }
}
