package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A built layer: {@code dir} is {@code <layers root>/<digest>}; {@code sitePackages} ({@code dir/site}) is mounted
 * at {@code /kiln/site}, {@code sharedCode} ({@code dir/shared}, null when the spec has no shared code) at
 * {@code /kiln/shared}; jobs run {@code interpreter}.
 */
public record Layer(String digest, Path dir, Path sitePackages, Path sharedCode,
                    PythonInterpreters.Interpreter interpreter) {
    public Layer {
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(sitePackages, "sitePackages");
        Objects.requireNonNull(interpreter, "interpreter");
    }
}
