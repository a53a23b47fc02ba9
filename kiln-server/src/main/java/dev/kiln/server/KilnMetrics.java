package dev.kiln.server;

import dev.kiln.core.JobRecord;
import dev.kiln.core.JobStatus;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.OrchestratorEvents;
import dev.kiln.server.nodes.NodeGateway;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/**
 * Prometheus metrics: jobs by status, queue depth, running, latency histograms, and the nodes (connected, dispatch
 * latency, reconnects, expired leases, re-queued executions).
 */
public final class KilnMetrics implements OrchestratorEvents, NodeGateway.Events {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter submitted;
    private final Counter requeued;
    private final Map<JobStatus, Counter> finished = new EnumMap<>(JobStatus.class);
    private final Timer queueWait;
    private final Timer execution;
    private final Timer total;
    private final Timer dispatch;
    private final Counter reconnects;
    private final Counter leasesExpired;
    private final Counter resultsDropped;
    private final Counter leasePauses;

    public KilnMetrics() {
        submitted = Counter.builder("kiln.jobs.submitted").description("Jobs accepted").register(registry);
        requeued = Counter.builder("kiln.jobs.requeued").description("Executions re-queued after an interruption")
                .register(registry);
        for (JobStatus s : JobStatus.terminal()) {
            finished.put(s, Counter.builder("kiln.jobs.finished").tag("status", s.wireName())
                    .description("Jobs that reached a terminal status").register(registry));
        }
        queueWait = histogram("kiln.job.queue", "Time from submission to start on a node");
        execution = histogram("kiln.job.execution", "Time the job's process ran");
        total = histogram("kiln.job.total", "Time from submission to terminal status");
        dispatch = Timer.builder("kiln.dispatch.latency")
                .description("Time from a job becoming ready to its node starting it").publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
        reconnects = Counter.builder("kiln.node.reconnects").description("Handshakes of nodes seen before")
                .register(registry);
        leasesExpired = Counter.builder("kiln.node.leases.expired")
                .description("Nodes declared lost after being silent past their lease").register(registry);
        resultsDropped = Counter.builder("kiln.node.results.dropped")
                .description("Late or repeated results of executions that were re-queued, cancelled or recorded already").register(registry);
        leasePauses = Counter.builder("kiln.node.lease.pauses")
                .description("Times the lease watcher found the orchestrator had been paused and renewed every lease")
                .register(registry);
    }

    private Timer histogram(String name, String description) {
        return Timer.builder(name).description(description).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
    }

    /** Gauges read live values from the orchestrator at scrape time. */
    public void bind(Orchestrator orchestrator, NodeGateway gateway) {
        Gauge.builder("kiln.nodes.connected", gateway, NodeGateway::connectedCount)
                .description("Remote nodes connected now").register(registry);
        Gauge.builder("kiln.queue.depth", orchestrator, Orchestrator::queueDepth)
                .description("Jobs waiting for a node").register(registry);
        Gauge.builder("kiln.jobs", orchestrator, Orchestrator::queueDepth).tag("status", "queued")
                .description("Jobs currently in a non-terminal status").register(registry);
        Gauge.builder("kiln.jobs", orchestrator, Orchestrator::runningCount).tag("status", "running")
                .description("Jobs currently in a non-terminal status").register(registry);
        Gauge.builder("kiln.capacity.slots", orchestrator, Orchestrator::capacity)
                .description("Execution slots of all nodes").register(registry);
    }

    @Override
    public void submitted(JobRecord job) {
        submitted.increment();
    }

    @Override
    public void started(JobRecord job, long queuedMs) {
        queueWait.record(Duration.ofMillis(queuedMs));
    }

    @Override
    public void finished(JobRecord job) {
        Counter c = finished.get(job.status());
        if (c != null) c.increment();
        if (job.result() != null && job.startedAt() != null) {
            execution.record(Duration.ofMillis(job.result().executionMs()));
        }
        if (job.finishedAt() != null) total.record(Duration.between(job.createdAt(), job.finishedAt()));
    }

    @Override
    public void requeued(JobRecord job, String reason) {
        requeued.increment();
    }

    @Override
    public void dispatched(JobRecord job, long nanos) {
        dispatch.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    @Override
    public void connected(boolean reconnect) {
        if (reconnect) reconnects.increment();
    }

    @Override
    public void leaseExpired() {
        leasesExpired.increment();
    }

    @Override
    public void resultDropped() {
        resultsDropped.increment();
    }

    @Override
    public void leaseWatcherPaused() {
        leasePauses.increment();
    }

    io.micrometer.core.instrument.MeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }
}
