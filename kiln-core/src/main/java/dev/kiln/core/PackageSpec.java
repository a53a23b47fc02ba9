package dev.kiln.core;

import java.util.List;

/**
 * What a job type's pre-built layer holds: the interpreter version ({@code null}: the host's default python3), pip
 * requirement specifiers, and shared code (absolute host paths of files or directories, copied into the layer and
 * importable). Everything here feeds the layer's content digest.
 */
public record PackageSpec(String pythonVersion, List<String> requirements, List<String> sharedCode) {
    public static final PackageSpec NONE = new PackageSpec(null, List.of(), List.of());

    public PackageSpec {
        requirements = requirements == null ? List.of() : List.copyOf(requirements);
        sharedCode = sharedCode == null ? List.of() : List.copyOf(sharedCode);
    }

    /** No layer needed: default interpreter, nothing to install, nothing to copy. */
    public boolean isEmpty() {
        return pythonVersion == null && requirements.isEmpty() && sharedCode.isEmpty();
    }
}
