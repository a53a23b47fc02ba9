package dev.kiln.core;

/**
 * A request Kiln refuses, with the HTTP status it maps to, a stable error code and the offending field (if any).
 * Transports map it one to one; nothing else should become a 4xx.
 */
public class KilnException extends RuntimeException {
    private final int httpStatus;
    private final String code;
    private final String field;

    public KilnException(int httpStatus, String code, String field, String message) {
        super(message);
        this.httpStatus = httpStatus;
        this.code = code;
        this.field = field;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public String code() {
        return code;
    }

    public String field() {
        return field;
    }

    public static KilnException invalid(String field, String message) {
        return new KilnException(400, "invalid_request", field, field + ": " + message);
    }

    public static KilnException tooLarge(String field, long limit, long actual) {
        return new KilnException(413, "payload_too_large", field,
                field + ": " + actual + " bytes exceeds the limit of " + limit + " bytes");
    }

    public static KilnException notFound(String what) {
        return new KilnException(404, "not_found", null, what + " not found");
    }

    public static KilnException conflict(String field, String message) {
        return new KilnException(409, "conflict", field, message);
    }
}
