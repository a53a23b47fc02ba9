package dev.kiln.server.config;

import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.RequestLimits;
import dev.kiln.store.StoreLocation;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * Everything a Kiln server is configured with. Sources, strongest first: command-line flags, KILN_* environment
 * variables, {@code kiln.yaml}, defaults.
 */
public record KilnConfig(String host, int port, Path dataDir, String executor, int slots, int maxQueueSize,
                         int maxAttempts, int shutdownGraceSeconds, RequestLimits requestLimits,
                         OutputLimits outputLimits, SandboxSettings sandbox, List<JobType> jobTypes,
                         boolean productionMode, PipSettings pip, java.util.Map<String, String> labels,
                         NodeSettings nodes, int queueTimeoutSeconds, int idempotencyRetentionSeconds,
                         int executionGraceSeconds, StoreLocation store, long retentionSeconds,
                         HttpSettings http, dev.kiln.server.auth.AuthMode authMode) {
    public static final int DEFAULT_PORT = 8000;

    public KilnConfig {
        jobTypes = List.copyOf(jobTypes);
        labels = java.util.Map.copyOf(labels);
    }

    public static KilnConfig defaults() {
        return new KilnConfig("0.0.0.0", DEFAULT_PORT, Path.of("kiln-data"), "bwrap",
                Math.max(1, Runtime.getRuntime().availableProcessors()), 10_000, 2, 10, RequestLimits.DEFAULTS,
                OutputLimits.DEFAULTS, SandboxSettings.DEFAULTS, List.of(), false, PipSettings.DEFAULTS,
                java.util.Map.of(), NodeSettings.DEFAULTS,
                (int) dev.kiln.core.OrchestratorSettings.DEFAULT_QUEUE_TIMEOUT.toSeconds(),
                (int) dev.kiln.core.OrchestratorSettings.DEFAULT_IDEMPOTENCY_RETENTION.toSeconds(),
                (int) dev.kiln.core.OrchestratorSettings.DEFAULT_EXECUTION_GRACE.toSeconds(), StoreLocation.SQLITE,
                dev.kiln.core.OrchestratorSettings.DEFAULT_RETENTION.toSeconds(), HttpSettings.DEFAULTS,
                dev.kiln.server.auth.AuthMode.LOCAL);
    }

    /** A mutable copy for the with-methods; one place lists the fields. */
    static final class Builder {
        String host;
        int port;
        Path dataDir;
        String executor;
        int slots;
        int maxQueueSize;
        int maxAttempts;
        int shutdownGraceSeconds;
        RequestLimits requestLimits;
        OutputLimits outputLimits;
        SandboxSettings sandbox;
        List<JobType> jobTypes;
        boolean productionMode;
        PipSettings pip;
        java.util.Map<String, String> labels;
        NodeSettings nodes;
        int queueTimeoutSeconds;
        int idempotencyRetentionSeconds;
        int executionGraceSeconds;
        StoreLocation store;
        long retentionSeconds;
        HttpSettings http;
        dev.kiln.server.auth.AuthMode authMode;

        Builder(KilnConfig c) {
            host = c.host;
            port = c.port;
            dataDir = c.dataDir;
            executor = c.executor;
            slots = c.slots;
            maxQueueSize = c.maxQueueSize;
            maxAttempts = c.maxAttempts;
            shutdownGraceSeconds = c.shutdownGraceSeconds;
            requestLimits = c.requestLimits;
            outputLimits = c.outputLimits;
            sandbox = c.sandbox;
            jobTypes = c.jobTypes;
            productionMode = c.productionMode;
            pip = c.pip;
            labels = c.labels;
            nodes = c.nodes;
            queueTimeoutSeconds = c.queueTimeoutSeconds;
            idempotencyRetentionSeconds = c.idempotencyRetentionSeconds;
            executionGraceSeconds = c.executionGraceSeconds;
            store = c.store;
            retentionSeconds = c.retentionSeconds;
            http = c.http;
            authMode = c.authMode;
        }

        KilnConfig build() {
            return new KilnConfig(host, port, dataDir, executor, slots, maxQueueSize, maxAttempts,
                    shutdownGraceSeconds, requestLimits, outputLimits, sandbox, jobTypes, productionMode, pip, labels,
                    nodes, queueTimeoutSeconds, idempotencyRetentionSeconds, executionGraceSeconds, store,
                    retentionSeconds, http, authMode);
        }
    }

    KilnConfig with(Consumer<Builder> change) {
        Builder b = new Builder(this);
        change.accept(b);
        return b.build();
    }

    public KilnConfig withPort(int p) {
        return with(b -> b.port = p);
    }

    public KilnConfig withHost(String h) {
        return with(b -> b.host = h);
    }

    public KilnConfig withDataDir(Path d) {
        return with(b -> b.dataDir = d);
    }

    public KilnConfig withExecutor(String e) {
        return with(b -> b.executor = e);
    }

    public KilnConfig withSlots(int s) {
        return with(b -> b.slots = s);
    }

    public KilnConfig withMaxQueueSize(int q) {
        return with(b -> b.maxQueueSize = q);
    }

    public KilnConfig withShutdownGraceSeconds(int s) {
        return with(b -> b.shutdownGraceSeconds = s);
    }

    public KilnConfig withSandbox(SandboxSettings s) {
        return with(b -> b.sandbox = s);
    }

    public KilnConfig withCgroupParent(String parent) {
        return withSandbox(new SandboxSettings(sandbox().python(), sandbox().bwrap(), parent, sandbox().uidRange()));
    }

    /** A throw-away parent of its own ({@code prefix-xxxxxxxx}), so a demo or bench never meets a running server's. */
    public KilnConfig withOwnCgroupParent(String prefix) {
        return withCgroupParent(dev.kiln.sandbox.BwrapConfig.throwAwayCgroupParent(prefix));
    }

    public KilnConfig withJobTypes(List<JobType> types) {
        return with(b -> b.jobTypes = types);
    }

    public KilnConfig withProductionMode(boolean on) {
        return with(b -> b.productionMode = on);
    }

    public KilnConfig withPip(PipSettings p) {
        return with(b -> b.pip = p);
    }

    public KilnConfig withLabels(java.util.Map<String, String> l) {
        return with(b -> b.labels = l);
    }

    public KilnConfig withRequestLimits(RequestLimits r) {
        return with(b -> b.requestLimits = r);
    }

    public KilnConfig withRetentionSeconds(long s) {
        return with(b -> b.retentionSeconds = s);
    }

    public KilnConfig withExecutionGraceSeconds(int s) {
        return with(b -> b.executionGraceSeconds = s);
    }

    public KilnConfig withIdempotencyRetentionSeconds(int s) {
        return with(b -> b.idempotencyRetentionSeconds = s);
    }

    public KilnConfig withQueueTimeoutSeconds(int s) {
        return with(b -> b.queueTimeoutSeconds = s);
    }

    public KilnConfig withNodes(NodeSettings n) {
        return with(b -> b.nodes = n);
    }

    public KilnConfig withAuthMode(dev.kiln.server.auth.AuthMode m) {
        return with(b -> b.authMode = m);
    }

    public KilnConfig withHttp(HttpSettings h) {
        return with(b -> b.http = h);
    }

    public KilnConfig withStore(StoreLocation s) {
        return with(b -> b.store = s);
    }
}
