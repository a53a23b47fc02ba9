package dev.kiln.core;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;

/** Checks a {@link JobSpec} against {@link RequestLimits} and its job type, naming the field and the limit. */
public final class JobSpecValidator {
    // Relative paths of plain segments: letters, digits, dot, dash, underscore; no empty, "." or ".." segments.
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
    private static final int MAX_PATH_LENGTH = 255;
    private static final int MAX_PATH_DEPTH = 8;
    private static final int MAX_CONSTRAINTS = 32;

    private final RequestLimits limits;

    public JobSpecValidator(RequestLimits limits) {
        this.limits = limits;
    }

    /** @return the effective timeout in seconds */
    public int validate(JobSpec spec, JobType type) {
        if (spec.code() == null || spec.code().isBlank()) {
            throw KilnException.invalid("code", "is required and must be a non-empty string");
        }
        long codeBytes = spec.code().getBytes(StandardCharsets.UTF_8).length;
        if (codeBytes > limits.maxCodeBytes()) throw KilnException.tooLarge("code", limits.maxCodeBytes(), codeBytes);
        if (spec.inputDataJson() != null) {
            long inputBytes = spec.inputDataJson().getBytes(StandardCharsets.UTF_8).length;
            if (inputBytes > limits.maxInputBytes()) {
                throw KilnException.tooLarge("input_data", limits.maxInputBytes(), inputBytes);
            }
        }
        validateFiles(spec.files());
        validateConstraints(spec.constraints());
        return effectiveTimeout(spec.timeoutSeconds(), type);
    }

    private void validateFiles(Map<String, byte[]> files) {
        if (files.size() > limits.maxFiles()) {
            throw KilnException.invalid("files", files.size() + " files exceeds the limit of " + limits.maxFiles());
        }
        long total = 0;
        for (var e : files.entrySet()) {
            String field = "files[" + e.getKey() + "]";
            checkRelativePath(field, e.getKey());
            if (e.getKey().equals("data.json")) {
                throw KilnException.invalid(field, "data.json is reserved for input_data");
            }
            long size = e.getValue().length;
            if (size > limits.maxFileBytes()) throw KilnException.tooLarge(field, limits.maxFileBytes(), size);
            total += size;
        }
        if (total > limits.maxFilesTotalBytes()) throw KilnException.tooLarge("files", limits.maxFilesTotalBytes(), total);
    }

    private static void validateConstraints(java.util.List<String> constraints) {
        if (constraints.size() > MAX_CONSTRAINTS) {
            throw KilnException.invalid("constraints", constraints.size() + " constraints exceeds the limit of "
                    + MAX_CONSTRAINTS);
        }
        for (int i = 0; i < constraints.size(); i++) {
            try {
                LabelConstraint.parse(constraints.get(i));
            } catch (IllegalArgumentException e) {
                throw KilnException.invalid("constraints[" + i + "]", e.getMessage());
            }
        }
    }

    /** Paths under /input: relative, plain segments, bounded length and depth. */
    public static void checkRelativePath(String field, String path) {
        if (path.isEmpty() || path.length() > MAX_PATH_LENGTH) {
            throw KilnException.invalid(field, "path must be 1 to " + MAX_PATH_LENGTH + " characters");
        }
        String[] segments = path.split("/", -1);
        if (segments.length > MAX_PATH_DEPTH) {
            throw KilnException.invalid(field, "path is deeper than " + MAX_PATH_DEPTH + " directories");
        }
        for (String s : segments) {
            if (!SEGMENT.matcher(s).matches() || s.equals("..")) {
                throw KilnException.invalid(field, "path must be relative, made of segments of letters, digits, "
                        + "'.', '-', '_' (no leading '.', no '..', no empty segment)");
            }
        }
    }

    static int effectiveTimeout(Integer requested, JobType type) {
        if (requested == null) return type.timeoutSeconds();
        if (requested < 1 || requested > type.maxTimeoutSeconds()) {
            throw KilnException.invalid("timeout", "must be between 1 and " + type.maxTimeoutSeconds()
                    + " seconds (the max_timeout of job type '" + type.name() + "'), got " + requested);
        }
        return requested;
    }
}
