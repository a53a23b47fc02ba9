package dev.kiln.core;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the user asked to run. {@code inputDataJson} is the raw JSON text of {@code input_data} (null when absent);
 * {@code files} maps a relative path under {@code /input} to its bytes; {@code timeoutSeconds} is null for the job
 * type's default; {@code constraints} are {@link LabelConstraint}s a node's labels must satisfy;
 * {@code queueTimeoutSeconds} (null: the job type's, else the server's) is how long it may wait for a node.
 */
public record JobSpec(String code, String inputDataJson, Map<String, byte[]> files, String jobType,
                      Integer timeoutSeconds, List<String> constraints, Integer queueTimeoutSeconds) {
    public static final String DEFAULT_JOB_TYPE = "default";

    public JobSpec {
        files = files == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(files));
        jobType = jobType == null ? DEFAULT_JOB_TYPE : jobType;
        constraints = constraints == null ? List.of() : List.copyOf(constraints);
    }

    public JobSpec(String code, String inputDataJson, Map<String, byte[]> files, String jobType,
                   Integer timeoutSeconds, List<String> constraints) {
        this(code, inputDataJson, files, jobType, timeoutSeconds, constraints, null);
    }

    public JobSpec(String code, String inputDataJson, Map<String, byte[]> files, String jobType,
                   Integer timeoutSeconds) {
        this(code, inputDataJson, files, jobType, timeoutSeconds, List.of(), null);
    }

    public static JobSpec python(String code) {
        return new JobSpec(code, null, Map.of(), DEFAULT_JOB_TYPE, null);
    }

    // Records compare arrays by identity; specs are compared by content for idempotency keys.
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof JobSpec other)) return false;
        if (!java.util.Objects.equals(code, other.code) || !java.util.Objects.equals(inputDataJson, other.inputDataJson)
                || !jobType.equals(other.jobType) || !java.util.Objects.equals(timeoutSeconds, other.timeoutSeconds)
                || !java.util.Objects.equals(queueTimeoutSeconds, other.queueTimeoutSeconds)
                || !constraints.equals(other.constraints) || !files.keySet().equals(other.files.keySet())) {
            return false;
        }
        for (var e : files.entrySet()) {
            if (!Arrays.equals(e.getValue(), other.files.get(e.getKey()))) return false;
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = java.util.Objects.hash(code, inputDataJson, jobType, timeoutSeconds, constraints,
                queueTimeoutSeconds);
        for (var e : files.entrySet()) h = 31 * h + e.getKey().hashCode() + Arrays.hashCode(e.getValue());
        return h;
    }

    @Override
    public String toString() {
        return "JobSpec[jobType=" + jobType + ", code=" + (code == null ? 0 : code.length()) + " chars, files="
                + files.keySet() + ", timeout=" + timeoutSeconds + ", constraints=" + constraints
                + (queueTimeoutSeconds == null ? "" : ", queueTimeout=" + queueTimeoutSeconds) + "]";
    }
}
