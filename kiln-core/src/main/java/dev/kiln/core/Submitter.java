package dev.kiln.core;

/**
 * Who submits a job: the namespace it will belong to and who (a key id, {@code local} for the machine's own user)
 * for the audit record.
 */
public record Submitter(String namespace, String by) {
    /** The machine's own user, before keys: namespace {@code default}. */
    public static final Submitter LOCAL = new Submitter(JobRecord.DEFAULT_NAMESPACE, "local");

    public Submitter {
        if (namespace == null) namespace = JobRecord.DEFAULT_NAMESPACE;
    }
}
