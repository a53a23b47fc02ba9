package dev.kiln.server.config;

/** A configuration error, naming the file, the field and why. Start-up stops with this message. */
public final class ConfigException extends RuntimeException {
    private final String field;
    private final String reason;

    public ConfigException(String message) {
        this(message, null, message);
    }

    public ConfigException(String message, String field, String reason) {
        super(message);
        this.field = field;
        this.reason = reason;
    }

    /** The field's path, e.g. {@code job_types[0].memory_limit} (null when the whole file is at fault). */
    public String field() {
        return field;
    }

    /** Why, without the file and field. */
    public String reason() {
        return reason;
    }
}
