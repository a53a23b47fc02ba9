package dev.kiln.client;

/** The server refused a request; carries the HTTP status, the error code and the field it named. */
public final class KilnApiException extends RuntimeException {
    private final int status;
    private final String code;
    private final String field;

    public KilnApiException(int status, String code, String field, String message) {
        super(message);
        this.status = status;
        this.code = code;
        this.field = field;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public String field() {
        return field;
    }
}
