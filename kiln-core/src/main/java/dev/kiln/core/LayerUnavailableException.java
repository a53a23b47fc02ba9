package dev.kiln.core;

/** A job's layer could not be provisioned (its build failed); the job fails with {@code sandbox_error}. */
public final class LayerUnavailableException extends RuntimeException {
    public LayerUnavailableException(String message) {
        super(message);
    }
}
