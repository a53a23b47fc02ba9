package dev.kiln.core;

import java.util.Locale;

/** Why a job did not succeed. Wire names are snake_case, as Tako VM clients expect. */
public enum ErrorType {
    SYNTAX_ERROR, RUNTIME_ERROR, EXECUTION_TIMEOUT, OOM, PIDS_LIMIT, OUTPUT_LIMIT, FILE_LIMIT,
    NETWORK_DENIED, SANDBOX_ERROR, CANCELLED, QUEUE_TIMEOUT;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ErrorType fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
