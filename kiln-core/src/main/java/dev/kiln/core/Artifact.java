package dev.kiln.core;

/** A file a job wrote under {@code /output}, as stored by Kiln. */
public record Artifact(String name, long size, String sha256) {
}
