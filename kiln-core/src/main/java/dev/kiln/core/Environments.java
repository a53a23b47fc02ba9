package dev.kiln.core;

/**
 * Pre-built job-type layers, as the orchestrator and nodes see them. The orchestrator asks which layer a job must run
 * on (and is refused in production mode when there is none); the node provisions it before the sandbox starts.
 */
public interface Environments {
    /** For deployments without layers: every type runs on the bare interpreter. */
    Environments NONE = new Environments() {
        @Override
        public String digestToRun(JobType type) {
            return null;
        }

        @Override
        public long provision(JobType type, String digest) {
            return 0;
        }
    };

    /**
     * The digest of the layer a job of this type runs on now (null when the type needs none): the current
     * definition's layer once built, else the last layer built for the type while a newer build failed or runs,
     * else (development mode) the current definition's, to be built on first use.
     *
     * @throws KilnException 409 in production mode when the type has no built layer
     */
    String digestToRun(JobType type);

    /**
     * Makes sure the layer exists on this node, building it if needed (development mode).
     *
     * @return milliseconds spent building (0 when it existed)
     * @throws LayerUnavailableException when it cannot be built
     */
    long provision(JobType type, String digest);
}
