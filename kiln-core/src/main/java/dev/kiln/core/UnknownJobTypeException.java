package dev.kiln.core;

import java.util.List;

/** 404 for a job type that does not exist; carries the names that do. */
public final class UnknownJobTypeException extends KilnException {
    private final List<String> available;

    public UnknownJobTypeException(String name, List<String> available) {
        super(404, "unknown_job_type", "job_type",
                "job_type: unknown job type '" + name + "'; available: " + String.join(", ", available));
        this.available = List.copyOf(available);
    }

    public List<String> available() {
        return available;
    }
}
