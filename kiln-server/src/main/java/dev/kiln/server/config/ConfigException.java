package dev.kiln.server.config;

/** A configuration error, naming the file, the field and why. Start-up stops with this message. */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
