package dev.kiln.sandbox;

/**
 * A snapshot of one job type's warm pool. Counters are cumulative since the executor started, across redefinitions
 * of the type (a changed definition replaces the pool but keeps counting).
 *
 * @param jobType           the job type's name
 * @param layerDigest       the layer the current pool runs on (null: none)
 * @param size              the configured size (0: the pool was disabled; counters stay)
 * @param ready             sandboxes ready to take a job now
 * @param starting          sandboxes being started
 * @param hits              executions that ran in a warm sandbox
 * @param misses            executions of the type that started cold: pool empty, the request's type definition or
 *                          layer differed from the pool's, or the job was not eligible (see {@code ineligible})
 * @param ineligible        of the misses, jobs that must start cold to behave exactly as cold: an input file that
 *                          the interpreter would import at start-up (e.g. {@code sitecustomize.py}), or a
 *                          non-UTF-8 source encoding declaration
 * @param discards          ready sandboxes found dead or unhealthy (at hand-over or while idle) and replaced
 * @param expired           ready sandboxes destroyed after the idle TTL and replaced
 * @param spawnFailures     sandboxes that failed to start or become ready (refills back off after them)
 * @param refills           sandboxes that became ready
 * @param refillMillisTotal sum over {@code refills} of the time from the start of a refill to ready
 * @param lastRefillMillis  that time for the latest refill (0: none yet)
 */
public record WarmPoolStats(String jobType, String layerDigest, int size, int ready, int starting, long hits,
                            long misses, long ineligible, long discards, long expired, long spawnFailures,
                            long refills, long refillMillisTotal, long lastRefillMillis) {
}
