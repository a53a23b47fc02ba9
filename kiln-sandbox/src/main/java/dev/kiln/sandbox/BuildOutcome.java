package dev.kiln.sandbox;

/**
 * What {@link LayerStore#build} did. {@code layer} is null exactly when {@code success} is false; {@code error} is
 * null exactly when it succeeded (on a pip failure: pip's last lines). {@code ranPip} is false when the layer
 * already existed (or was built meanwhile by a concurrent build of the same digest) or needs no packages.
 * {@code log} is the build's output (pip's stdout and stderr interleaved, capped at its last
 * {@link LayerStore#MAX_LOG_IN_OUTCOME} characters); {@code millis} is the wall time of the call.
 */
public record BuildOutcome(String digest, boolean success, boolean ranPip, Layer layer, String log, String error,
                           long millis) {
    public BuildOutcome {
        if (success != (layer != null)) throw new IllegalArgumentException("layer must be set exactly on success");
        if (success != (error == null)) throw new IllegalArgumentException("error must be null exactly on success");
        log = log == null ? "" : log;
    }
}
