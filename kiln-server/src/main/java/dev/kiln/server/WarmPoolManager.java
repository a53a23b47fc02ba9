package dev.kiln.server;

import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeRegistry;
import dev.kiln.core.KilnException;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.PoolSettings;
import dev.kiln.sandbox.WarmPoolStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * Keeps every bwrap job type's warm pool matching its current definition and layer: at start, after a layer is
 * built, and when types are registered or removed. Pools are sized by the type's {@code pool_size} (default: the
 * node's slots). Exposes hits, misses, discards, ready sandboxes and refill time as metrics.
 */
final class WarmPoolManager {
    private record Configured(JobType type, String digest, PoolSettings settings) {
    }

    private final BwrapExecutor bwrap;
    private final JobTypeRegistry registry;
    private final EnvironmentService environments;
    private final String defaultExecutor;
    private final int slots;
    private final MeterRegistry meters;
    private final Map<String, Configured> configured = new HashMap<>();
    private final Set<String> metered = new HashSet<>();

    WarmPoolManager(BwrapExecutor bwrap, JobTypeRegistry registry, EnvironmentService environments,
                    String defaultExecutor, int slots, MeterRegistry meters) {
        this.bwrap = bwrap;
        this.registry = registry;
        this.environments = environments;
        this.defaultExecutor = defaultExecutor;
        this.slots = slots;
        this.meters = meters;
    }

    synchronized void refresh() {
        if (bwrap == null) return;
        Set<String> wanted = new HashSet<>();
        for (JobType t : registry.all()) {
            String executor = t.executor() != null ? t.executor() : defaultExecutor;
            int size = t.pool().sizeFor(slots);
            if (!executor.equals(BwrapExecutor.NAME) || size == 0) continue;
            String digest;
            try {
                digest = environments.digestToRun(t);
            } catch (KilnException notBuilt) {
                continue; // production mode, no layer yet: configured once it is built
            }
            if (digest != null && !environments.isBuilt(digest)) continue; // built on first use, pooled after
            Configured want = new Configured(t, digest, new PoolSettings(size, t.pool().refillConcurrency(),
                    Duration.ofSeconds(t.pool().idleTtlSeconds())));
            wanted.add(t.name());
            if (!want.equals(configured.get(t.name()))) {
                bwrap.configurePool(t, digest, want.settings());
                configured.put(t.name(), want);
                bindMetrics(t.name());
            }
        }
        for (var it = configured.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (wanted.contains(e.getKey())) continue;
            bwrap.configurePool(e.getValue().type(), e.getValue().digest(), PoolSettings.DISABLED);
            it.remove();
        }
    }

    private void bindMetrics(String type) {
        if (!metered.add(type)) return;
        counter("kiln.pool.hits", type, "Jobs served by a warm sandbox", WarmPoolStats::hits);
        counter("kiln.pool.misses", type, "Jobs that started cold", WarmPoolStats::misses);
        counter("kiln.pool.discards", type, "Warm sandboxes found dead or unhealthy and replaced",
                WarmPoolStats::discards);
        counter("kiln.pool.refills", type, "Warm sandboxes started", WarmPoolStats::refills);
        Gauge.builder("kiln.pool.ready", () -> stat(type, WarmPoolStats::ready)).tag("job_type", type)
                .description("Warm sandboxes ready").register(meters);
        Gauge.builder("kiln.pool.refill.ms", () -> stat(type, s -> s.refills() == 0 ? 0
                        : (double) s.refillMillisTotal() / s.refills())).tag("job_type", type)
                .description("Mean time to start a warm sandbox").register(meters);
    }

    private void counter(String name, String type, String description, ToDoubleFunction<WarmPoolStats> f) {
        FunctionCounter.builder(name, this, m -> m.stat(type, f)).tag("job_type", type).description(description)
                .register(meters);
    }

    private double stat(String type, ToDoubleFunction<WarmPoolStats> f) {
        return bwrap.poolStats().stream().filter(s -> s.jobType().equals(type)).mapToDouble(f).sum();
    }
}
