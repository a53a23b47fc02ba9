package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Artifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.ExecutionStatus;
import dev.kiln.core.JobError;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.KilnException;
import dev.kiln.core.NewJob;
import dev.kiln.core.SpecHash;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The storage contract every {@link JobStore} backend must pass. A subclass provides {@link #createStore()}: a new
 * store instance over the same (per-test, initially empty) storage each time it is called; storage shared between
 * tests (a database) is emptied by {@link #emptyStorage()}.
 */
public abstract class JobStoreContract {
    private static final Instant T0 = Instant.parse("2026-01-02T03:04:05.678Z");
    private final AtomicLong clock = new AtomicLong(T0.toEpochMilli());
    private final List<JobStore> opened = new ArrayList<>();

    protected JobStore store;

    /** A new store instance over this test's storage; the contract closes it. */
    protected abstract JobStore createStore();

    protected final JobStore openStore() {
        JobStore s = createStore();
        opened.add(s);
        return s;
    }

    /** Runs before each test's first store: empties storage that outlives a test. Nothing by default. */
    protected void emptyStorage() {
    }

    /** The store the test is using (for contracts mixed in as interfaces). */
    public final JobStore currentStore() {
        return store;
    }

    /** Another instance over the same storage, as a second replica or a restarted server would open it. */
    public final JobStore anotherInstance() {
        return openStore();
    }

    @BeforeEach
    void openInitialStore() {
        emptyStorage();
        store = openStore();
    }

    @AfterEach
    void closeStores() {
        opened.forEach(JobStore::close);
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private Instant tick() {
        return Instant.ofEpochMilli(clock.addAndGet(1_000));
    }

    private NewJob newJob(JobSpec spec, String key) {
        return new NewJob(UUID.randomUUID().toString(), spec, SpecHash.of(spec), key, 3, tick());
    }

    private NewJob newJob() {
        return newJob(JobSpec.python("print(1)"), null);
    }

    private JobRecord insert() {
        return store.insert(newJob()).job();
    }

    private JobRecord get(String id) {
        return store.find(id).orElseThrow();
    }

    private static JobResult fullResult() {
        return new JobResult(1, "out ✓\n", "Traceback…\n", true, false, "{\"answer\": 42,  \"x\":[1.50]}",
                new JobError(ErrorType.RUNTIME_ERROR, "ZeroDivisionError: division by zero", JobError.PHASE_EXECUTION),
                123, 4567, List.of(new Artifact("plots/a.png", 2048, "ab".repeat(32)),
                new Artifact("out.csv", 0, "cd".repeat(32))));
    }

    // ---- insert / find -------------------------------------------------------------------------------------

    @Test
    void insertAndFindRoundTripEveryField() {
        byte[] binary = new byte[1024];
        new Random(7).nextBytes(binary);
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("data/raw.bin", binary);
        files.put("notes.txt", "naïve café ✓".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        files.put("empty", new byte[0]);
        String code = "print('héllo wörld 🌍 世界')\n# \u0000 nul and \\ backslash \"quotes\"\n";
        String input = "{ \"b\" : [1, 2.50, \"x\"],\n  \"ü\": null }";
        JobSpec spec = new JobSpec(code, input, files, "python-ml", 42);
        NewJob job = new NewJob(UUID.randomUUID().toString(), spec, SpecHash.of(spec), "key-ü-1", 5, tick());

        JobStore.Inserted inserted = store.insert(job);
        JobRecord found = get(job.id());

        assertThat(inserted.created()).isTrue();
        assertThat(found).isEqualTo(inserted.job());
        assertThat(found.id()).isEqualTo(job.id());
        assertThat(found.seq()).isPositive();
        assertThat(found.status()).isEqualTo(JobStatus.QUEUED);
        assertThat(found.spec()).isEqualTo(spec);
        assertThat(found.spec().code()).isEqualTo(code);
        assertThat(found.spec().inputDataJson()).isEqualTo(input);
        assertThat(found.spec().files()).containsOnlyKeys("data/raw.bin", "notes.txt", "empty");
        assertThat(found.spec().files().get("data/raw.bin")).isEqualTo(binary);
        assertThat(found.spec().files().get("empty")).isEmpty();
        assertThat(found.spec().jobType()).isEqualTo("python-ml");
        assertThat(found.spec().timeoutSeconds()).isEqualTo(42);
        assertThat(found.specHash()).isEqualTo(job.specHash());
        assertThat(found.idempotencyKey()).isEqualTo("key-ü-1");
        assertThat(found.attempt()).isZero();
        assertThat(found.maxAttempts()).isEqualTo(5);
        assertThat(found.version()).isZero();
        assertThat(found.nodeId()).isNull();
        assertThat(found.createdAt()).isEqualTo(job.createdAt());
        assertThat(found.startedAt()).isNull();
        assertThat(found.finishedAt()).isNull();
        assertThat(found.result()).isNull();
    }

    @Test
    void absentOptionalFieldsRoundTripAsNull() {
        JobSpec spec = new JobSpec("x = 1", null, null, null, null);
        NewJob job = new NewJob(UUID.randomUUID().toString(), spec, null, null, 1, tick());

        JobRecord found = store.insert(job).job();

        assertThat(found).isEqualTo(get(job.id()));
        assertThat(found.spec().inputDataJson()).isNull();
        assertThat(found.spec().files()).isEmpty();
        assertThat(found.spec().jobType()).isEqualTo(JobSpec.DEFAULT_JOB_TYPE);
        assertThat(found.spec().timeoutSeconds()).isNull();
        assertThat(found.specHash()).isNull();
        assertThat(found.idempotencyKey()).isNull();
    }

    @Test
    void createdAtKeepsMillisecondPrecision() {
        Instant created = Instant.ofEpochMilli(1_767_225_600_123L);
        NewJob job = new NewJob(UUID.randomUUID().toString(), JobSpec.python("1"), "h", null, 1, created);
        assertThat(store.insert(job).job().createdAt()).isEqualTo(created);
    }

    @Test
    void findUnknownIdIsEmpty() {
        assertThat(store.find(UUID.randomUUID().toString())).isEmpty();
    }

    @Test
    void seqIncreasesInInsertOrder() {
        long a = insert().seq();
        long b = insert().seq();
        assertThat(b).isGreaterThan(a);
    }

    @Test
    void duplicateIdIsRejected() {
        NewJob job = newJob();
        store.insert(job);
        NewJob sameId = new NewJob(job.id(), JobSpec.python("other"), "h2", null, 1, tick());
        assertThatThrownBy(() -> store.insert(sameId)).isInstanceOf(RuntimeException.class);
        assertThat(get(job.id()).spec()).isEqualTo(job.spec());
    }

    // ---- idempotency ---------------------------------------------------------------------------------------

    @Test
    void sameIdempotencyKeyReturnsTheExistingJobUnchanged() {
        JobRecord first = store.insert(newJob(JobSpec.python("print(1)"), "order-17")).job();
        assertThat(store.markRunning(first.id(), 0, 1, "node-a", tick())).isTrue();
        JobRecord current = get(first.id());

        JobStore.Inserted again = store.insert(newJob(JobSpec.python("print(2)"), "order-17"));

        assertThat(again.created()).isFalse();
        assertThat(again.job()).isEqualTo(current);
        assertThat(store.countByStatus().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(1);
    }

    @Test
    void aKeyIsFoundWhileItStandsAndReleasedOnceItExpired() {
        NewJob job = newJob(JobSpec.python("print(1)"), "k-expiring");
        JobRecord first = store.insert(job).job();
        assertThat(store.findByIdempotencyKey("k-expiring", null)).contains(first);
        assertThat(store.findByIdempotencyKey("k-expiring", first.createdAt())).contains(first);
        assertThat(store.findByIdempotencyKey("k-expiring", first.createdAt().plusMillis(1))).isEmpty();
        assertThat(store.findByIdempotencyKey("no-such-key", null)).isEmpty();

        Instant later = tick();
        NewJob again = new NewJob(UUID.randomUUID().toString(), JobSpec.python("print(2)"), "other-hash",
                "k-expiring", 3, later, first.createdAt().plusMillis(1));
        JobStore.Inserted second = store.insert(again);
        assertThat(second.created()).isTrue();
        assertThat(store.findByIdempotencyKey("k-expiring", null)).contains(second.job());
        assertThat(get(first.id()).idempotencyKey()).isNull();
        assertThat(get(first.id()).status()).isEqualTo(JobStatus.QUEUED);
    }

    @Test
    void jobsWithoutKeyNeverCollide() {
        assertThat(store.insert(newJob()).created()).isTrue();
        assertThat(store.insert(newJob()).created()).isTrue();
        assertThat(store.countByStatus().get(JobStatus.QUEUED)).isEqualTo(2);
    }

    @Test
    @Timeout(60)
    void concurrentInsertsWithOneKeyCreateExactlyOneJob() throws Exception {
        int threads = 16;
        CountDownLatch start = new CountDownLatch(1);
        List<Callable<JobStore.Inserted>> tasks = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            tasks.add(() -> {
                start.await();
                return store.insert(newJob(JobSpec.python("print(1)"), "race-key"));
            });
        }
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<JobStore.Inserted>> futures = tasks.stream().map(pool::submit).toList();
            start.countDown();
            List<JobStore.Inserted> results = new ArrayList<>();
            for (Future<JobStore.Inserted> f : futures) results.add(f.get());
            assertThat(results).filteredOn(JobStore.Inserted::created).hasSize(1);
            assertThat(results).extracting(r -> r.job().id()).containsOnly(results.getFirst().job().id());
        }
    }

    // ---- fencing and transitions ---------------------------------------------------------------------------

    @Test
    void markRunningWithStaleVersionChangesNothing() {
        JobRecord job = insert();

        assertThat(store.markRunning(job.id(), 1, 1, "node-a", tick())).isFalse();
        assertThat(get(job.id())).isEqualTo(job);

        Instant started = tick();
        assertThat(store.markRunning(job.id(), 0, 1, "node-a", started)).isTrue();
        JobRecord running = get(job.id());
        assertThat(running.status()).isEqualTo(JobStatus.RUNNING);
        assertThat(running.version()).isEqualTo(1);
        assertThat(running.attempt()).isEqualTo(1);
        assertThat(running.nodeId()).isEqualTo("node-a");
        assertThat(running.startedAt()).isEqualTo(started);
        assertThat(running.currentExecutionId()).isEqualTo(job.id() + "-1");

        assertThat(store.markRunning(job.id(), 0, 2, "node-b", tick())).isFalse();
        assertThat(get(job.id())).isEqualTo(running);
    }

    @Test
    void completeAppliesOnlyOnce() {
        JobRecord job = insert();
        store.markRunning(job.id(), 0, 1, "node-a", tick());
        Instant finished = tick();
        JobResult result = fullResult();

        assertThat(store.complete(job.id(), 1, JobStatus.FAILED, result, finished)).isTrue();
        JobRecord done = get(job.id());
        assertThat(done.status()).isEqualTo(JobStatus.FAILED);
        assertThat(done.version()).isEqualTo(2);
        assertThat(done.result()).isEqualTo(result);
        assertThat(done.finishedAt()).isEqualTo(finished);
        assertThat(done.nodeId()).isEqualTo("node-a");

        JobResult other = JobResult.errorOnly(new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_QUEUE));
        assertThat(store.complete(job.id(), 1, JobStatus.SUCCEEDED, other, tick())).isFalse();
        assertThat(store.complete(job.id(), 2, JobStatus.CANCELLED, other, tick())).isFalse();
        assertThat(get(job.id())).isEqualTo(done);
    }

    @Test
    void resultWithoutErrorOrExitCodeRoundTrips() {
        JobRecord job = insert();
        store.markRunning(job.id(), 0, 1, "n", tick());
        JobResult ok = new JobResult(0, "", "", false, true, null, null, 5, 6, List.of());
        JobResult noExit = JobResult.errorOnly(new JobError(ErrorType.OOM, "killed", JobError.PHASE_EXECUTION));

        assertThat(store.complete(job.id(), 1, JobStatus.SUCCEEDED, ok, tick())).isTrue();
        assertThat(get(job.id()).result()).isEqualTo(ok);

        JobRecord other = insert();
        store.markRunning(other.id(), 0, 1, "n", tick());
        assertThat(store.complete(other.id(), 1, JobStatus.OOM, noExit, tick())).isTrue();
        assertThat(get(other.id()).result()).isEqualTo(noExit);
        assertThat(get(other.id()).result().exitCode()).isNull();
    }

    @Test
    void requeueIncrementsVersionAndClearsNode() {
        JobRecord job = insert();
        Instant started = tick();
        store.markRunning(job.id(), 0, 1, "node-a", started);

        assertThat(store.requeue(job.id(), 0, "test", Instant.now())).isFalse();
        assertThat(store.requeue(job.id(), 1, "test", Instant.now())).isTrue();
        JobRecord queued = get(job.id());
        assertThat(queued.status()).isEqualTo(JobStatus.QUEUED);
        assertThat(queued.version()).isEqualTo(2);
        assertThat(queued.nodeId()).isNull();
        assertThat(queued.attempt()).isEqualTo(1);

        assertThat(store.requeue(job.id(), 1, "test", Instant.now())).isFalse();
        assertThat(store.markRunning(job.id(), 2, 2, "node-b", tick())).isTrue();
        assertThat(get(job.id()).attempt()).isEqualTo(2);
        assertThat(get(job.id()).nodeId()).isEqualTo("node-b");
    }

    @Test
    void jobsKeepTheirNamespaceAndSubmitterAndListByNamespace() {
        JobRecord a = store.insert(new NewJob(UUID.randomUUID().toString(), JobSpec.python("print(1)"), "h", null, 1,
                tick(), null, "team-a", "key_a")).job();
        JobRecord b = store.insert(new NewJob(UUID.randomUUID().toString(), JobSpec.python("print(1)"), "h", null, 1,
                tick(), null, "team-b", "key_b")).job();
        JobRecord plain = insert();
        assertThat(a.namespace()).isEqualTo("team-a");
        assertThat(get(a.id()).namespace()).isEqualTo("team-a");
        assertThat(get(a.id()).submittedBy()).isEqualTo("key_a");
        assertThat(get(plain.id()).namespace()).isEqualTo("default");
        assertThat(store.list("team-a", null, 100, null).jobs()).extracting(JobRecord::id).containsExactly(a.id());
        assertThat(store.list("team-b", JobStatus.QUEUED, 100, null).jobs()).extracting(JobRecord::id)
                .containsExactly(b.id());
        assertThat(store.list(null, null, 100, null).jobs()).extracting(JobRecord::id)
                .contains(a.id(), b.id(), plain.id());
        store.markRunning(a.id(), 0, 1, "n", tick());
        assertThat(get(a.id()).namespace()).as("kept through transitions").isEqualTo("team-a");
    }

    @Test
    void adoptionFencesOutTheReplicaThatHeldTheExecutionBefore() {
        JobRecord job = insert();
        store.markRunning(job.id(), 0, 1, "node-a", tick());
        assertThat(store.adopt(job.id(), 1, "node-b")).as("another node").isFalse();
        assertThat(store.adopt(job.id(), 0, "node-a")).as("a stale version").isFalse();
        assertThat(store.adopt(job.id(), 1, "node-a")).isTrue();
        assertThat(store.adopt(job.id(), 1, "node-a")).as("once").isFalse();
        JobRecord adopted = get(job.id());
        assertThat(adopted.version()).isEqualTo(2);
        assertThat(adopted.status()).isEqualTo(JobStatus.RUNNING);
        assertThat(adopted.attempt()).isEqualTo(1);
        assertThat(adopted.nodeId()).isEqualTo("node-a");
        // The replica that held it before can neither re-queue nor finish it; the adopter can.
        assertThat(store.requeue(job.id(), 1, "node lost", tick())).isFalse();
        assertThat(store.complete(job.id(), 1, JobStatus.FAILED, JobResult.errorOnly(new JobError(
                ErrorType.SANDBOX_ERROR, "late", JobError.PHASE_EXECUTION)), tick())).isFalse();
        assertThat(store.executions(job.id())).hasSize(1);
        assertThat(store.complete(job.id(), 2, JobStatus.SUCCEEDED, JobResult.errorOnly(null), tick())).isTrue();
        assertThat(store.adopt(job.id(), 3, "node-a")).as("not running").isFalse();
    }

    // ---- executions ----------------------------------------------------------------------------------------

    @Test
    void everyAttemptIsAnExecutionEndedWithItsJobsTransition() {
        JobRecord job = insert();
        assertThat(store.executions(job.id())).isEmpty();
        Instant first = tick();
        Instant deadline = first.plusSeconds(60);
        assertThat(store.markRunning(List.of(new JobStore.Claim(job.id(), 0, 1, "node-a", first, deadline))))
                .containsExactly(true);
        ExecutionRecord running = store.executions(job.id()).getFirst();
        assertThat(running.id()).isEqualTo(job.id() + "-1");
        assertThat(running.status()).isEqualTo(ExecutionStatus.RUNNING);
        assertThat(running.nodeId()).isEqualTo("node-a");
        assertThat(running.startedAt()).isEqualTo(first);
        assertThat(running.deadlineAt()).isEqualTo(deadline);
        assertThat(running.finishedAt()).isNull();

        Instant lost = tick();
        assertThat(store.requeue(job.id(), 1, "node node-a was lost", lost)).isTrue();
        Instant second = tick();
        assertThat(store.markRunning(job.id(), 2, 2, "node-b", second)).isTrue();
        Instant done = tick();
        JobResult result = fullResult();
        assertThat(store.complete(job.id(), 3, JobStatus.FAILED, result, done)).isTrue();

        List<ExecutionRecord> all = store.executions(job.id());
        assertThat(all).extracting(ExecutionRecord::attempt).containsExactly(1, 2);
        ExecutionRecord interrupted = all.get(0);
        assertThat(interrupted.status()).isEqualTo(ExecutionStatus.INTERRUPTED);
        assertThat(interrupted.finishedAt()).isEqualTo(lost);
        assertThat(interrupted.error().message()).isEqualTo("node node-a was lost");
        ExecutionRecord last = all.get(1);
        assertThat(last.id()).isEqualTo(job.id() + "-2");
        assertThat(last.nodeId()).isEqualTo("node-b");
        assertThat(last.status()).isEqualTo(ExecutionStatus.FAILED);
        assertThat(last.finishedAt()).isEqualTo(done);
        assertThat(last.exitCode()).isEqualTo(result.exitCode());
        assertThat(last.error()).isEqualTo(result.error());
    }

    @Test
    void runningJobsPastTheirExecutionDeadlineAreOverdue() {
        JobRecord late = insert();
        JobRecord onTime = insert();
        JobRecord noDeadline = insert();
        Instant start = tick();
        store.markRunning(List.of(new JobStore.Claim(late.id(), 0, 1, "a", start, start.plusSeconds(10)),
                new JobStore.Claim(onTime.id(), 0, 1, "a", start, start.plusSeconds(60)),
                new JobStore.Claim(noDeadline.id(), 0, 1, "a", start, null)));
        assertThat(store.findOverdue(start.plusSeconds(10), 10)).isEmpty();
        assertThat(store.findOverdue(start.plusSeconds(11), 10)).extracting(JobRecord::id).containsExactly(late.id());
        assertThat(store.findOverdue(start.plusSeconds(61), 10)).extracting(JobRecord::id)
                .containsExactly(late.id(), onTime.id());
        assertThat(store.findOverdue(start.plusSeconds(61), 1)).extracting(JobRecord::id).containsExactly(late.id());
        JobRecord running = get(late.id());
        assertThat(store.findOverdue(start.plusSeconds(61), 10).getFirst()).isEqualTo(running);

        store.requeue(late.id(), 1, "late", tick());
        assertThat(store.findOverdue(start.plusSeconds(61), 10)).extracting(JobRecord::id).containsExactly(onTime.id());
    }

    @Test
    void leasesAreRenewedPerNodeAndLapsedOnesFound() {
        JobRecord onA = insert();
        JobRecord onB = insert();
        JobRecord unleased = insert();
        Instant start = tick();
        store.markRunning(List.of(
                new JobStore.Claim(onA.id(), 0, 1, "node-a", start, null, start.plusSeconds(5)),
                new JobStore.Claim(onB.id(), 0, 1, "node-b", start, null, start.plusSeconds(5)),
                new JobStore.Claim(unleased.id(), 0, 1, "node-c", start, null, null)));
        assertThat(store.findLeaseExpired(start.plusSeconds(5), 10)).isEmpty();
        assertThat(store.findLeaseExpired(start.plusSeconds(6), 10)).extracting(JobRecord::id)
                .containsExactlyInAnyOrder(onA.id(), onB.id());

        assertThat(store.renewLeases(List.of("node-a", "node-x"), start.plusSeconds(20))).isEqualTo(1);
        assertThat(store.renewLeases(List.of(), start.plusSeconds(20))).isZero();
        assertThat(store.findLeaseExpired(start.plusSeconds(6), 10)).extracting(JobRecord::id)
                .containsExactly(onB.id());
        assertThat(store.executions(onA.id()).getFirst().leaseExpiresAt()).isEqualTo(start.plusSeconds(20));
        assertThat(store.findLeaseExpired(start.plusSeconds(6), 10).getFirst()).isEqualTo(get(onB.id()));

        // An ended execution is no longer renewed nor found.
        store.complete(onB.id(), 1, JobStatus.SUCCEEDED, fullResultOk(), tick());
        assertThat(store.renewLeases(List.of("node-b"), start.plusSeconds(30))).isZero();
        assertThat(store.findLeaseExpired(start.plusSeconds(60), 10)).extracting(JobRecord::id)
                .containsExactly(onA.id());
    }

    @Test
    void aCancelRequestMarksOnlyTheRunningExecution() {
        JobRecord job = insert();
        assertThat(store.requestCancel(job.id())).isFalse();
        store.markRunning(job.id(), 0, 1, "n", tick());
        assertThat(store.executions(job.id()).getFirst().cancelRequested()).isFalse();
        assertThat(store.requestCancel(job.id())).isTrue();
        assertThat(store.executions(job.id()).getFirst().cancelRequested()).isTrue();
        assertThat(get(job.id()).version()).isEqualTo(1); // not a transition
        store.requeue(job.id(), 1, "lost", tick());
        assertThat(store.requestCancel(job.id())).isFalse();
    }

    private static JobResult fullResultOk() {
        return new JobResult(0, "", "", false, false, null, null, 1, 1, List.of());
    }

    @Test
    void retentionDeletesOnlyTerminalJobsFinishedBeforeTheCutoff() {
        JobRecord old = store.insert(newJob(JobSpec.python("print(1)"), "retained-key")).job();
        store.markRunning(old.id(), 0, 1, "n", tick());
        Instant oldEnd = tick();
        store.complete(old.id(), 1, JobStatus.SUCCEEDED, fullResultOk(), oldEnd);
        JobRecord cancelledOld = insert();
        store.complete(cancelledOld.id(), 0, JobStatus.CANCELLED,
                JobResult.errorOnly(new JobError(ErrorType.CANCELLED, "c", JobError.PHASE_QUEUE)), tick());
        JobRecord running = insert();
        store.markRunning(running.id(), 0, 1, "n", tick());
        JobRecord queued = insert();
        Instant cutoff = tick();
        JobRecord recent = insert();
        store.markRunning(recent.id(), 0, 1, "n", tick());
        store.complete(recent.id(), 1, JobStatus.FAILED, fullResult(), tick());

        List<JobStore.Purged> purged = store.deleteFinishedBefore(cutoff, 1);
        assertThat(purged).containsExactly(new JobStore.Purged(old.id(), 1));
        assertThat(store.deleteFinishedBefore(cutoff, 10)).containsExactly(new JobStore.Purged(cancelledOld.id(), 0));
        assertThat(store.deleteFinishedBefore(cutoff, 10)).isEmpty();

        assertThat(store.find(old.id())).isEmpty();
        assertThat(store.executions(old.id())).isEmpty();
        assertThat(store.find(cancelledOld.id())).isEmpty();
        assertThat(store.find(running.id())).isPresent();
        assertThat(store.find(queued.id())).isPresent();
        assertThat(store.find(recent.id())).isPresent();
        // The key went with its job.
        assertThat(store.findByIdempotencyKey("retained-key", null)).isEmpty();
        assertThat(store.insert(newJob(JobSpec.python("print(3)"), "retained-key")).created()).isTrue();
        // Far in the future: still never a job that has not ended.
        store.deleteFinishedBefore(cutoff.plusSeconds(86_400 * 365), 100);
        assertThat(store.find(running.id())).isPresent();
        assertThat(store.find(queued.id())).isPresent();
    }

    @Test
    void aTransitionThatLosesTheCompareAndSetLeavesExecutionsAlone() {
        JobRecord job = insert();
        store.markRunning(job.id(), 0, 1, "node-a", tick());
        List<ExecutionRecord> before = store.executions(job.id());

        assertThat(store.complete(job.id(), 0, JobStatus.SUCCEEDED, fullResult(), tick())).isFalse();
        assertThat(store.requeue(job.id(), 7, "stale", tick())).isFalse();
        assertThat(store.markRunning(job.id(), 0, 2, "node-b", tick())).isFalse();

        assertThat(store.executions(job.id())).isEqualTo(before);
    }

    @Test
    void aJobEndedWhileQueuedHasNoExecution() {
        JobRecord job = insert();
        JobResult cancelled = JobResult.errorOnly(new JobError(ErrorType.CANCELLED, "cancelled", JobError.PHASE_QUEUE));
        assertThat(store.complete(job.id(), 0, JobStatus.CANCELLED, cancelled, tick())).isTrue();
        assertThat(store.executions(job.id())).isEmpty();
        assertThat(store.executions("no-such-job")).isEmpty();
    }

    @Test
    void disallowedTransitionsAreRefusedEvenWithTheCurrentVersion() {
        JobRecord job = insert();
        assertThat(store.requeue(job.id(), 0, "test", Instant.now())).as("QUEUED -> QUEUED").isFalse();
        assertThat(store.complete(job.id(), 0, JobStatus.SUCCEEDED, fullResult(), tick()))
                .as("QUEUED -> SUCCEEDED").isFalse();
        assertThat(get(job.id())).isEqualTo(job);

        assertThat(store.markRunning(job.id(), 0, 1, "a", tick())).isTrue();
        assertThat(store.markRunning(job.id(), 1, 2, "b", tick())).as("RUNNING -> RUNNING").isFalse();

        assertThat(store.complete(job.id(), 1, JobStatus.TIMEOUT, fullResult(), tick())).isTrue();
        JobRecord done = get(job.id());
        assertThat(store.complete(job.id(), 2, JobStatus.FAILED, fullResult(), tick())).as("terminal").isFalse();
        assertThat(store.requeue(job.id(), 2, "test", Instant.now())).as("TIMEOUT -> QUEUED").isFalse();
        assertThat(store.markRunning(job.id(), 2, 2, "c", tick())).as("TIMEOUT -> RUNNING").isFalse();
        assertThat(get(job.id())).isEqualTo(done);
    }

    @Test
    void queuedJobMayFailOrBeCancelledDirectly() {
        JobRecord a = insert();
        JobRecord b = insert();
        JobResult refused = JobResult.errorOnly(new JobError(ErrorType.SANDBOX_ERROR, "no", JobError.PHASE_QUEUE));
        assertThat(store.complete(a.id(), 0, JobStatus.FAILED, refused, tick())).isTrue();
        assertThat(store.complete(b.id(), 0, JobStatus.CANCELLED, refused, tick())).isTrue();
        assertThat(get(a.id()).status()).isEqualTo(JobStatus.FAILED);
        assertThat(get(b.id()).status()).isEqualTo(JobStatus.CANCELLED);
    }

    @Test
    void completeWithNonTerminalStatusIsAProgrammingError() {
        JobRecord job = insert();
        assertThatThrownBy(() -> store.complete(job.id(), 0, JobStatus.RUNNING, fullResult(), tick()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(get(job.id())).isEqualTo(job);
    }

    @Test
    void stateChangesOnUnknownJobReturnFalse() {
        String id = UUID.randomUUID().toString();
        assertThat(store.markRunning(id, 0, 1, "a", tick())).isFalse();
        assertThat(store.requeue(id, 0, "test", Instant.now())).isFalse();
        assertThat(store.complete(id, 0, JobStatus.FAILED, fullResult(), tick())).isFalse();
    }

    @Test
    @Timeout(60)
    void twoThreadsRacingOneCompareAndSetExactlyOneWins() throws Exception {
        for (int round = 0; round < 20; round++) {
            JobRecord job = insert();
            JobStore other = round % 2 == 0 ? store : openStore(); // within one instance and across two
            CountDownLatch start = new CountDownLatch(1);
            try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
                Future<Boolean> a = pool.submit(() -> {
                    start.await();
                    return store.markRunning(job.id(), 0, 1, "node-a", tick());
                });
                Future<Boolean> b = pool.submit(() -> {
                    start.await();
                    return other.markRunning(job.id(), 0, 1, "node-b", tick());
                });
                start.countDown();
                assertThat(List.of(a.get(), b.get())).containsExactlyInAnyOrder(true, false);
            }
            JobRecord running = get(job.id());
            assertThat(running.version()).isEqualTo(1);
            assertThat(running.nodeId()).isIn("node-a", "node-b");
        }
    }

    // ---- listing and counting ------------------------------------------------------------------------------

    @Test
    void listPagesNewestFirst() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 7; i++) ids.add(insert().id());
        List<String> newestFirst = ids.reversed();

        JobPage p1 = store.list(null, 3, null);
        JobPage p2 = store.list(null, 3, p1.nextCursor());
        JobPage p3 = store.list(null, 3, p2.nextCursor());

        assertThat(p1.jobs()).extracting(JobRecord::id).containsExactlyElementsOf(newestFirst.subList(0, 3));
        assertThat(p2.jobs()).extracting(JobRecord::id).containsExactlyElementsOf(newestFirst.subList(3, 6));
        assertThat(p3.jobs()).extracting(JobRecord::id).containsExactlyElementsOf(newestFirst.subList(6, 7));
        assertThat(p1.nextCursor()).isNotNull();
        assertThat(p2.nextCursor()).isNotNull();
        assertThat(p3.nextCursor()).isNull();
    }

    @Test
    void lastFullPageHasNoNextCursor() {
        for (int i = 0; i < 4; i++) insert();
        JobPage p1 = store.list(null, 2, null);
        JobPage p2 = store.list(null, 2, p1.nextCursor());
        assertThat(p2.jobs()).hasSize(2);
        assertThat(p2.nextCursor()).isNull();
        assertThat(store.list(null, 10, null).nextCursor()).isNull();
    }

    @Test
    void listFiltersByStatusAcrossPages() {
        List<String> running = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            JobRecord job = insert();
            if (i % 2 == 0) {
                store.markRunning(job.id(), 0, 1, "n", tick());
                running.add(job.id());
            }
        }
        List<String> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            JobPage page = store.list(JobStatus.RUNNING, 2, cursor);
            assertThat(page.jobs()).allMatch(j -> j.status() == JobStatus.RUNNING);
            page.jobs().forEach(j -> seen.add(j.id()));
            cursor = page.nextCursor();
            pages++;
        } while (cursor != null);

        assertThat(seen).containsExactlyElementsOf(running.reversed());
        assertThat(pages).isEqualTo(3);
        assertThat(store.list(JobStatus.CANCELLED, 5, null)).isEqualTo(new JobPage(List.of(), null));
    }

    @Test
    void newJobsDoNotShiftAPageInProgress() {
        for (int i = 0; i < 4; i++) insert();
        JobPage p1 = store.list(null, 2, null);
        insert();
        JobPage p2 = store.list(null, 2, p1.nextCursor());
        assertThat(p2.jobs().getFirst().seq()).isLessThan(p1.jobs().getLast().seq());
        assertThat(p2.jobs()).hasSize(2);
    }

    @Test
    void malformedCursorIsAClientError() {
        assertThatThrownBy(() -> store.list(null, 2, "not-a-cursor"))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.httpStatus()).isEqualTo(400));
        assertThatThrownBy(() -> store.list(null, 0, null)).isInstanceOf(KilnException.class);
    }

    @Test
    void findByStatusIsOldestFirst() {
        List<String> queued = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            JobRecord job = insert();
            if (i == 2) store.markRunning(job.id(), 0, 1, "n", tick());
            else queued.add(job.id());
        }
        assertThat(store.findByStatus(JobStatus.QUEUED, 10)).extracting(JobRecord::id).containsExactlyElementsOf(queued);
        assertThat(store.findByStatus(JobStatus.QUEUED, 2)).extracting(JobRecord::id)
                .containsExactlyElementsOf(queued.subList(0, 2));
        assertThat(store.findByStatus(JobStatus.OOM, 10)).isEmpty();
    }

    @Test
    void countByStatusHasEveryStatus() {
        assertThat(store.countByStatus()).containsOnlyKeys(JobStatus.values()).allSatisfy((s, n) -> assertThat(n).isZero());

        JobRecord a = insert();
        insert();
        insert();
        store.markRunning(a.id(), 0, 1, "n", tick());
        store.complete(a.id(), 1, JobStatus.SUCCEEDED, fullResult(), tick());
        JobRecord b = insert();
        store.markRunning(b.id(), 0, 1, "n", tick());

        Map<JobStatus, Long> counts = store.countByStatus();
        assertThat(counts).containsOnlyKeys(JobStatus.values());
        assertThat(counts.get(JobStatus.QUEUED)).isEqualTo(2);
        assertThat(counts.get(JobStatus.RUNNING)).isEqualTo(1);
        assertThat(counts.get(JobStatus.SUCCEEDED)).isEqualTo(1);
        assertThat(counts.get(JobStatus.FAILED)).isZero();
    }

    @Test
    void isHealthyWhileOpen() {
        assertThat(store.isHealthy()).isTrue();
    }

    // ---- durability ----------------------------------------------------------------------------------------

    @Test
    void dataSurvivesCloseAndReopen() {
        JobRecord queued = insert();
        JobRecord done = insert();
        store.markRunning(done.id(), 0, 1, "n", tick());
        store.complete(done.id(), 1, JobStatus.SUCCEEDED, fullResult(), tick());
        JobRecord doneBefore = get(done.id());
        JobPage listBefore = store.list(null, 10, null);
        store.close();

        store = openStore();

        assertThat(get(queued.id())).isEqualTo(queued);
        assertThat(get(done.id())).isEqualTo(doneBefore);
        assertThat(store.list(null, 10, null)).isEqualTo(listBefore);
        assertThat(insert().seq()).isGreaterThan(done.seq());
    }

    @Test
    void acceptedJobIsVisibleToABrandNewInstanceOnTheSameStorage() {
        JobRecord job = insert();
        store.markRunning(job.id(), 0, 1, "n", tick());

        JobStore second = openStore(); // the first one stays open, as after a crash nobody closed it
        assertThat(second.find(job.id())).contains(get(job.id()));

        // Both instances can write; the second one's CAS fences the first one.
        assertThat(second.requeue(job.id(), 1, "test", Instant.now())).isTrue();
        assertThat(store.requeue(job.id(), 1, "test", Instant.now())).isFalse();
        JobRecord fromSecond = second.insert(newJob()).job();
        assertThat(store.find(fromSecond.id())).contains(fromSecond);
    }

    // ---- concurrency ---------------------------------------------------------------------------------------

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void twoInstancesOnTheSameStorageWriteConcurrently() throws Exception {
        JobStore second = openStore();
        int threadsPerInstance = 4;
        int insertsEach = 50;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (JobStore instance : List.of(store, second)) {
                for (int t = 0; t < threadsPerInstance; t++) {
                    futures.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < insertsEach; i++) {
                            JobRecord job = instance.insert(newJob()).job();
                            assertThat(instance.markRunning(job.id(), 0, 1, "n", tick())).isTrue();
                        }
                        return null;
                    }));
                }
            }
            start.countDown();
            for (Future<?> f : futures) f.get();
        }
        assertThat(store.countByStatus().get(JobStatus.RUNNING)).isEqualTo(2L * threadsPerInstance * insertsEach);
    }


    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void concurrentInsertsAndCasRacesNeverFail() throws Exception {
        int inserters = 16;
        int insertsEach = 200;
        int raced = 40;
        int racers = 8;
        List<JobRecord> raceJobs = new ArrayList<>();
        for (int i = 0; i < raced; i++) raceJobs.add(insert());

        Set<String> insertedIds = ConcurrentHashMap.newKeySet();
        Map<String, AtomicInteger> runWins = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> completeWins = new ConcurrentHashMap<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();

        try (ExecutorService platform = Executors.newFixedThreadPool(inserters);
             ExecutorService virtual = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < inserters; t++) {
                futures.add(platform.submit(() -> {
                    start.await();
                    for (int i = 0; i < insertsEach; i++) {
                        JobStore.Inserted ins = store.insert(newJob());
                        assertThat(ins.created()).isTrue();
                        insertedIds.add(ins.job().id());
                        if (i % 50 == 0) store.list(null, 20, null); // readers alongside writers
                    }
                    return null;
                }));
            }
            for (JobRecord job : raceJobs) {
                runWins.put(job.id(), new AtomicInteger());
                completeWins.put(job.id(), new AtomicInteger());
                CountDownLatch markRunningRaceOver = new CountDownLatch(racers);
                for (int r = 0; r < racers; r++) {
                    int racer = r;
                    futures.add(virtual.submit(() -> {
                        start.await();
                        if (store.markRunning(job.id(), 0, 1, "node-" + racer, tick())) {
                            runWins.get(job.id()).incrementAndGet();
                        }
                        // Everyone then races to complete the version the winner produced.
                        markRunningRaceOver.countDown();
                        markRunningRaceOver.await();
                        if (store.complete(job.id(), 1, JobStatus.SUCCEEDED, fullResult(), tick())) {
                            completeWins.get(job.id()).incrementAndGet();
                        }
                        return null;
                    }));
                }
            }
            start.countDown();
            for (Future<?> f : futures) f.get(); // rethrows any failure
        }

        assertThat(insertedIds).hasSize(inserters * insertsEach);
        assertThat(runWins.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        assertThat(completeWins.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        Map<JobStatus, Long> counts = store.countByStatus();
        assertThat(counts.get(JobStatus.QUEUED)).isEqualTo(inserters * insertsEach);
        assertThat(counts.get(JobStatus.SUCCEEDED)).isEqualTo(raced);
        for (JobRecord job : raceJobs) assertThat(get(job.id()).version()).isEqualTo(2);

        Set<Long> seqs = new HashSet<>();
        String cursor = null;
        do {
            JobPage page = store.list(JobStatus.QUEUED, 500, cursor);
            page.jobs().forEach(j -> seqs.add(j.seq()));
            cursor = page.nextCursor();
        } while (cursor != null);
        assertThat(seqs).hasSize(inserters * insertsEach);
    }

    @Test
    void claimsARoundAtOnceEachFencedByItsOwnVersion() {
        JobRecord a = insert();
        JobRecord b = insert();
        JobRecord c = insert();
        Instant now = Instant.now();
        java.util.List<Boolean> applied = store.markRunning(java.util.List.of(
                new JobStore.Claim(a.id(), a.version(), 1, "n1", now),
                new JobStore.Claim(b.id(), b.version() + 7, 1, "n1", now), // stale version
                new JobStore.Claim(c.id(), c.version(), 1, "n2", now)));
        assertThat(applied).containsExactly(true, false, true);
        assertThat(store.find(a.id()).orElseThrow().status()).isEqualTo(JobStatus.RUNNING);
        assertThat(store.find(b.id()).orElseThrow().status()).isEqualTo(JobStatus.QUEUED);
        assertThat(store.find(c.id()).orElseThrow().nodeId()).isEqualTo("n2");
        assertThat(store.markRunning(java.util.List.of())).isEmpty();
    }
}
