package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.testing.InMemoryJobStore;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The orchestrator against the in-memory store, scripted nodes and a clock that moves only when told: deadlines,
 * queue timeouts and store outages without a server, a sandbox or waiting for real time to pass.
 */
class OrchestratorLifecycleTest {
    private final ControllableClock clock = new ControllableClock(Instant.parse("2026-03-01T10:00:00Z"));
    private final InMemoryJobStore store = new InMemoryJobStore();
    private Orchestrator orchestrator;

    /** Artifacts by key (the execution id) and name; only their names matter here. */
    private final java.util.Map<String, java.util.Set<String>> stored = new java.util.concurrent.ConcurrentHashMap<>();

    private final ArtifactStore NO_ARTIFACTS = new ArtifactStore() {
        @Override
        public List<Artifact> importArtifacts(String key, List<CollectedArtifact> artifacts) {
            artifacts.forEach(a -> stored.computeIfAbsent(key, k -> java.util.concurrent.ConcurrentHashMap.newKeySet())
                    .add(a.name()));
            return artifacts.stream().map(CollectedArtifact::toArtifact).toList();
        }

        @Override
        public Optional<InputStream> open(String key, String name) {
            return Optional.empty();
        }

        @Override
        public void deleteAll(String key) {
            stored.remove(key);
        }
    };

    private Orchestrator start(ComputeNode... nodes) {
        orchestrator = new Orchestrator(store, NO_ARTIFACTS, new JobTypeRegistry(List.of()), Environments.NONE,
                List.of(nodes), clock, new OrchestratorEvents() {
                }, new OrchestratorSettings(100, 2, RequestLimits.DEFAULTS, OutputLimits.DEFAULTS, null,
                Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofHours(24), Duration.ofSeconds(30), Duration.ofDays(30)));
        orchestrator.start();
        return orchestrator;
    }

    @AfterEach
    void stop() {
        if (orchestrator != null) orchestrator.close();
    }

    private static JobSpec job(int timeoutSeconds) {
        return new JobSpec("pass", null, java.util.Map.of(), "default", timeoutSeconds);
    }

    private static void awaitTrue(java.util.concurrent.Callable<Boolean> condition) {
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).until(condition);
    }

    @Test
    void anExecutionWhoseResultNeverComesIsTakenBackAtItsDeadline() {
        ScriptedNode node = new ScriptedNode("n1", 1);
        start(node);
        JobRecord job = orchestrator.submit(job(10), null);
        awaitTrue(() -> node.held.containsKey(job.id() + "-1"));

        node.forget(job.id() + "-1"); // the result is lost: nothing will ever come back
        clock.advance(Duration.ofSeconds(39)); // timeout 10 s + grace 30 s not yet over
        awaitTrue(() -> orchestrator.runningCount() == 1);
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.RUNNING);

        clock.advance(Duration.ofSeconds(2));
        awaitTrue(() -> node.held.containsKey(job.id() + "-2"));
        assertThat(node.cancels).contains(job.id() + "-1");
        node.succeed(job.id() + "-2");
        awaitTrue(() -> store.find(job.id()).orElseThrow().status() == JobStatus.SUCCEEDED);

        List<ExecutionRecord> runs = store.executions(job.id());
        assertThat(runs).extracting(ExecutionRecord::status)
                .containsExactly(ExecutionStatus.INTERRUPTED, ExecutionStatus.SUCCEEDED);
        assertThat(runs.getFirst().error().message()).contains("by its deadline");
    }

    /**
     * A node cut off from replica A (alive) moves to replica B, which adopts its execution. When A then declares
     * the node lost, it must not re-queue the execution (it would run twice): B finishes it, once.
     */
    @Test
    void aReplicaThatLostANodeToAnotherReplicaDoesNotRunItsExecutionAgain() {
        ScriptedNode onA = ScriptedNode.remote("n1", 1);
        start(onA);
        Orchestrator a = orchestrator;
        JobRecord job = a.submit(job(60), null);
        String execution = job.id() + "-1";
        awaitTrue(() -> onA.held.containsKey(execution));

        Orchestrator b = new Orchestrator(store, NO_ARTIFACTS, new JobTypeRegistry(List.of()), Environments.NONE,
                List.of(), clock, new OrchestratorEvents() {
                }, new OrchestratorSettings(100, 2, RequestLimits.DEFAULTS, OutputLimits.DEFAULTS, null,
                Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofHours(24), Duration.ofSeconds(30),
                Duration.ofDays(30)));
        try {
            b.start();
            ScriptedNode onB = ScriptedNode.remote("n1", 1); // the same node, its new connection
            b.addNode(onB);
            assertThat(b.reconcile(onB, java.util.Set.of(execution))).as("nothing to cancel: adopted").isEmpty();
            assertThat(onB.held).containsKey(execution);

            a.nodeLost("n1", "node n1 was lost (silent for more than its lease)");
            JobRecord now = store.find(job.id()).orElseThrow();
            assertThat(now.status()).isEqualTo(JobStatus.RUNNING);
            assertThat(now.attempt()).isEqualTo(1);

            onB.succeed(execution);
            awaitTrue(() -> store.find(job.id()).orElseThrow().status() == JobStatus.SUCCEEDED);
            assertThat(store.executions(job.id())).extracting(ExecutionRecord::status)
                    .containsExactly(ExecutionStatus.SUCCEEDED);
        } finally {
            b.close();
        }
    }

    /**
     * A job in the store that no replica announced (its replica died between the insert and the QUEUED signal, or
     * came back without nodes) is taken over by the leader's sweep and runs, instead of waiting for its queue timeout.
     */
    @Test
    void theLeaderRunsAQueuedJobNoReplicaAnnounced() {
        StoreSignals shared = new StoreSignals() { // another process's signals: this replica follows replicas
            @Override
            public void publish(Topic topic, String id) {
            }

            @Override
            public void subscribe(Listener listener) {
            }

            @Override
            public void close() {
            }
        };
        ScriptedNode node = ScriptedNode.remote("n1", 1);
        orchestrator = new Orchestrator(store, NO_ARTIFACTS, new JobTypeRegistry(List.of()), Environments.NONE,
                List.of(node), clock, new OrchestratorEvents() {
                }, new OrchestratorSettings(100, 2, RequestLimits.DEFAULTS, OutputLimits.DEFAULTS, null,
                Duration.ofSeconds(10), Duration.ofMinutes(5), Duration.ofHours(24), Duration.ofSeconds(30),
                Duration.ofDays(30)), shared, Leadership.SOLE);
        orchestrator.start();
        clock.advance(Duration.ofSeconds(1));
        // Inserted by a replica that died before it could say so.
        JobSpec spec = job(10);
        store.insert(new NewJob("unannounced-1", spec, SpecHash.of(spec), null, 2, clock.instant()));
        clock.advance(ReplicaSync.UNANNOUNCED_SWEEP_EVERY.plusSeconds(1));
        awaitTrue(() -> { // the sweep hears it; the steal delay later it is taken
            clock.advance(Duration.ofMillis(300));
            return node.held.containsKey("unannounced-1-1");
        });
        node.succeed("unannounced-1-1");
        awaitTrue(() -> store.find("unannounced-1").orElseThrow().status() == JobStatus.SUCCEEDED);
    }

    @Test
    void aJobThatNoNodeAnswersFailsOnceItsAttemptsAreUsedUp() {
        ScriptedNode node = new ScriptedNode("n1", 1);
        start(node);
        JobRecord job = orchestrator.submit(job(5), null);
        for (int attempt = 1; attempt <= 2; attempt++) {
            String id = job.id() + "-" + attempt;
            awaitTrue(() -> node.held.containsKey(id));
            node.forget(id);
            clock.advance(Duration.ofSeconds(36));
        }
        awaitTrue(() -> store.find(job.id()).orElseThrow().status() == JobStatus.FAILED);
        JobRecord failed = store.find(job.id()).orElseThrow();
        assertThat(failed.attempt()).isEqualTo(2);
        assertThat(failed.result().error().message()).contains("no attempts are left");
    }

    @Test
    void aLateResultThatLosesTheCompareAndSetChangesNothingAndLeavesNoFiles() {
        ScriptedNode node = new ScriptedNode("n1", 1);
        start(node);
        JobRecord job = orchestrator.submit(job(10), null);
        awaitTrue(() -> node.held.containsKey(job.id() + "-1"));
        // Meanwhile another replica took the execution back and a second attempt finished the job.
        Instant t = clock.instant();
        assertThat(store.requeue(job.id(), 1, "taken back by another replica", t)).isTrue();
        assertThat(store.markRunning(job.id(), 2, 2, "n2", t)).isTrue();
        JobResult winner = new JobResult(0, "winner\n", "", false, false, null, null, 1, 1,
                List.of(new Artifact("out.txt", 6, "ab".repeat(32))));
        assertThat(store.complete(job.id(), 3, JobStatus.SUCCEEDED, winner, t)).isTrue();
        stored.put(job.id() + "-2", java.util.Set.of("out.txt"));

        node.succeedWith(job.id() + "-1", List.of(new CollectedArtifact("out.txt", 5, "cd".repeat(32),
                java.nio.file.Path.of("/nonexistent"))));
        awaitTrue(() -> orchestrator.runningCount() == 0);
        awaitTrue(() -> !stored.containsKey(job.id() + "-1"));
        assertThat(stored).containsOnlyKeys(job.id() + "-2");
        JobRecord done = store.find(job.id()).orElseThrow();
        assertThat(done.result()).isEqualTo(winner);
        assertThat(done.attempt()).isEqualTo(2);
        assertThat(store.executions(job.id())).extracting(ExecutionRecord::status)
                .containsExactly(ExecutionStatus.INTERRUPTED, ExecutionStatus.SUCCEEDED);
    }

    @Test
    void aJobWaitingPastItsQueueTimeoutFails() {
        start(new ScriptedNode("n1", 1));
        JobSpec gpu = new JobSpec("pass", null, java.util.Map.of(), "default", null, List.of("gpu=true"));
        JobRecord job = orchestrator.submit(gpu, null);
        awaitTrue(() -> "1 node, 0 match gpu=true".equals(orchestrator.queueReason(job.id())));
        clock.advance(Duration.ofMinutes(5).minusSeconds(1));
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        clock.advance(Duration.ofSeconds(1));
        awaitTrue(() -> store.find(job.id()).orElseThrow().status() == JobStatus.FAILED);
        JobError error = store.find(job.id()).orElseThrow().result().error();
        assertThat(error.type()).isEqualTo(ErrorType.QUEUE_TIMEOUT);
        assertThat(error.message()).isEqualTo("waited 300 s for a node, past its queue_timeout of 300 s: "
                + "1 node, 0 match gpu=true");
    }

    @Test
    void resultsAndClaimsDuringAStoreOutageAreMadeWhenItIsBack() {
        ScriptedNode node = new ScriptedNode("n1", 1);
        start(node);
        JobRecord first = orchestrator.submit(job(10), null);
        JobRecord second = orchestrator.submit(job(10), null);
        awaitTrue(() -> node.held.containsKey(first.id() + "-1"));

        store.failWrites(true);
        node.succeed(first.id() + "-1"); // the result arrives while the store refuses writes
        awaitTrue(() -> orchestrator.pendingWrites() == 1);
        assertThat(orchestrator.storeHealth().ok()).isFalse();
        assertThat(store.find(first.id()).orElseThrow().status()).isEqualTo(JobStatus.RUNNING);
        assertThat(node.held).isEmpty(); // the freed slot's claim of the second job failed: it waits

        store.failWrites(false);
        awaitTrue(() -> store.find(first.id()).orElseThrow().status() == JobStatus.SUCCEEDED);
        awaitTrue(() -> node.held.containsKey(second.id() + "-1"));
        node.succeed(second.id() + "-1");
        awaitTrue(() -> store.find(second.id()).orElseThrow().status() == JobStatus.SUCCEEDED);
        assertThat(store.executions(first.id())).hasSize(1);
        assertThat(store.executions(second.id())).hasSize(1);
        assertThat(orchestrator.storeHealth().ok()).isTrue();
    }
}
