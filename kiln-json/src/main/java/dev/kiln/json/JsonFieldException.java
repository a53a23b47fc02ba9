package dev.kiln.json;

/**
 * A JSON field that is missing or holds the wrong kind of value. The message starts with the field's path
 * ({@code job_type.timeout: required integer}) so whoever sent it can find it; callers with their own error type
 * (the node protocol's ProtocolException) translate it.
 */
public final class JsonFieldException extends IllegalArgumentException {
    private final String field;
    private final String problem;

    public JsonFieldException(String field, String problem) {
        super(field + ": " + problem);
        this.field = field;
        this.problem = problem;
    }

    /** The path of the field, e.g. {@code spec.files.data.bin}. */
    public String field() {
        return field;
    }

    /** The same fault seen from the object that holds {@code parent}. */
    public JsonFieldException within(String parent) {
        return new JsonFieldException(parent + "." + field, problem);
    }
}
