package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.JobType;
import dev.kiln.core.NewJob;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.jdbi.v3.core.transaction.TransactionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Group commit in {@link SqliteJobStore}: many writers share commits, yet each write keeps its own outcome and a
 * write that returned is durable. Batches are lined up deterministically by holding the committer inside a write
 * while the others queue behind it; nothing here depends on timing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GroupCommitTest {
    private static final JobResult OK = new JobResult(0, "out", "", false, false, null, null, 1, 2, List.of());

    @TempDir
    Path dataDir;

    private SqliteJobStore store;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void open() {
        store = SqliteJobStore.open(dataDir);
    }

    @AfterEach
    void close() {
        threads.shutdownNow();
        store.close();
    }

    private static NewJob newJob(String key) {
        return new NewJob(UUID.randomUUID().toString(), JobSpec.python("print(1)"), "h", key, 3, Instant.now());
    }

    private static NewJob newJob() {
        return newJob(null);
    }

    private GroupCommitter.Stats stats() {
        return store.committer().stats();
    }

    /**
     * Parks the committer inside a write of its own until the returned latch is released, so that every write
     * submitted meanwhile waits in the queue and all of them are then committed as one batch.
     */
    private CountDownLatch holdCommitter() throws InterruptedException {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        threads.submit(() -> store.committer().run(h -> {
            inside.countDown();
            awaitUninterruptibly(release);
            return null;
        }));
        inside.await();
        return release;
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // keep holding: the test decides when the committer may go on
            }
        }
    }

    /** Polls a condition that must come true soon; the class-level timeout bounds it. Not a timing assertion. */
    private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        while (!condition.getAsBoolean()) Thread.sleep(1);
    }

    private <T> List<Future<T>> submitQueued(List<Callable<T>> writes) throws InterruptedException {
        int before = store.committer().queued();
        List<Future<T>> futures = writes.stream().map(threads::submit).toList();
        waitUntil(() -> store.committer().queued() == before + writes.size());
        return futures;
    }

    private static Throwable failureOf(Future<?> f) throws InterruptedException {
        try {
            f.get();
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected the write to fail");
    }

    private Set<String> allIds(JobStore s) {
        Set<String> ids = new HashSet<>();
        String cursor = null;
        do {
            JobPage page = s.list(null, 1000, cursor);
            page.jobs().forEach(j -> ids.add(j.id()));
            cursor = page.nextCursor();
        } while (cursor != null);
        return ids;
    }

    // ---- batching ------------------------------------------------------------------------------------------

    @Test
    void aLoneWriterIsCommittedAloneEachTime() {
        GroupCommitter.Stats before = stats();
        for (int i = 0; i < 5; i++) {
            JobRecord job = store.insert(newJob()).job();
            assertThat(store.markRunning(job.id(), 0, 1, "n", Instant.now())).isTrue();
        }
        GroupCommitter.Stats after = stats();
        // No linger: nothing waits for company, every write gets its own commit.
        assertThat(after.commits() - before.commits()).isEqualTo(10);
        assertThat(after.writes() - before.writes()).isEqualTo(10);
    }

    @Test
    void aLoneWriteRunsOnItsCallersThreadAndQueuedOnesOnTheCommitters() throws Exception {
        Thread ranOn = store.committer().run(h -> Thread.currentThread());
        assertThat((Object) ranOn).as("no hand-off when alone").isSameAs(Thread.currentThread());

        CountDownLatch release = holdCommitter();
        List<Future<Thread>> queued = submitQueued(List.of(() -> store.committer().run(h -> Thread.currentThread())));
        release.countDown();
        assertThat(queued.getFirst().get().getName()).isEqualTo("kiln-sqlite-committer");
    }

    @Test
    void writesQueuedTogetherShareOneCommit() throws Exception {
        CountDownLatch release = holdCommitter();
        List<Callable<JobStore.Inserted>> inserts = new ArrayList<>();
        for (int i = 0; i < 100; i++) inserts.add(() -> store.insert(newJob()));
        List<Future<JobStore.Inserted>> futures = submitQueued(inserts);
        GroupCommitter.Stats before = stats();

        release.countDown();
        for (Future<JobStore.Inserted> f : futures) assertThat(f.get().created()).isTrue();

        GroupCommitter.Stats after = stats();
        assertThat(after.commits() - before.commits()).as("the holding write's batch and the queued batch")
                .isEqualTo(2);
        assertThat(after.writes() - before.writes()).isEqualTo(101);
    }

    private static int synchronousMode(org.jdbi.v3.core.Handle h) {
        return h.createQuery("PRAGMA synchronous").mapTo(Integer.class).one(); // 1 NORMAL, 2 FULL
    }

    @Test
    void onlyABatchOfUnsyncedWritesSkipsTheFsyncAndTheNextSyncedOneHasItBack() throws Exception {
        assertThat(store.committer().runUnsynced(GroupCommitTest::synchronousMode)).isEqualTo(1);
        assertThat(store.committer().run(GroupCommitTest::synchronousMode)).as("not left behind").isEqualTo(2);

        CountDownLatch release = holdCommitter();
        List<Future<Integer>> mixed = submitQueued(List.of(
                () -> store.committer().runUnsynced(GroupCommitTest::synchronousMode),
                () -> store.committer().run(GroupCommitTest::synchronousMode)));
        release.countDown();
        assertThat(mixed.get(0).get()).as("a synced write in the batch syncs all of it").isEqualTo(2);
        assertThat(mixed.get(1).get()).isEqualTo(2);
    }

    @Test
    void claimsAreUnsyncedYetSurviveAReopen() {
        JobRecord job = store.insert(newJob()).job();
        assertThat(store.markRunning(List.of(new JobStore.Claim(job.id(), 0, 1, "n", Instant.now()))))
                .containsExactly(true);
        store.close();
        store = SqliteJobStore.open(dataDir);
        assertThat(store.find(job.id()).orElseThrow().status()).isEqualTo(JobStatus.RUNNING);
    }

    @Test
    void batchesAreBounded() throws Exception {
        CountDownLatch release = holdCommitter();
        int writes = GroupCommitter.MAX_BATCH + 10;
        List<Callable<JobStore.Inserted>> inserts = new ArrayList<>();
        for (int i = 0; i < writes; i++) inserts.add(() -> store.insert(newJob()));
        List<Future<JobStore.Inserted>> futures = submitQueued(inserts);
        GroupCommitter.Stats before = stats();

        release.countDown();
        for (Future<JobStore.Inserted> f : futures) f.get();

        assertThat(stats().commits() - before.commits()).as("holding batch, a full batch, the rest").isEqualTo(3);
        assertThat(store.countByStatus().get(JobStatus.QUEUED)).isEqualTo(writes);
    }

    /** The brief's burst: 64 virtual threads x 200 inserts, plus CAS races, against one store. */
    @Test
    void manyConcurrentWritersAllSucceedAndEveryAcceptedInsertSurvivesReopen() throws Exception {
        int writers = 64;
        int insertsEach = 200;
        int raced = 32;
        int racers = 8;
        List<JobRecord> raceJobs = new ArrayList<>();
        for (int i = 0; i < raced; i++) raceJobs.add(store.insert(newJob()).job());
        GroupCommitter.Stats before = stats();

        Set<String> accepted = ConcurrentHashMap.newKeySet();
        Map<String, AtomicInteger> runWins = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> completeWins = new ConcurrentHashMap<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < writers; t++) {
            futures.add(threads.submit(() -> {
                start.await();
                for (int i = 0; i < insertsEach; i++) {
                    JobStore.Inserted ins = store.insert(newJob());
                    assertThat(ins.created()).isTrue();
                    accepted.add(ins.job().id());
                }
                return null;
            }));
        }
        for (JobRecord job : raceJobs) {
            runWins.put(job.id(), new AtomicInteger());
            completeWins.put(job.id(), new AtomicInteger());
            CountDownLatch runRaceOver = new CountDownLatch(racers);
            for (int r = 0; r < racers; r++) {
                String node = "node-" + r;
                futures.add(threads.submit(() -> {
                    start.await();
                    if (store.markRunning(job.id(), 0, 1, node, Instant.now())) {
                        runWins.get(job.id()).incrementAndGet();
                    }
                    runRaceOver.countDown();
                    runRaceOver.await();
                    if (store.complete(job.id(), 1, JobStatus.SUCCEEDED, OK, Instant.now())) {
                        completeWins.get(job.id()).incrementAndGet();
                    }
                    return null;
                }));
            }
        }
        start.countDown();
        for (Future<?> f : futures) f.get(); // rethrows any failure

        assertThat(accepted).hasSize(writers * insertsEach);
        assertThat(runWins.values()).allSatisfy(n -> assertThat(n.get()).as("markRunning winners").isEqualTo(1));
        assertThat(completeWins.values()).allSatisfy(n -> assertThat(n.get()).as("complete winners").isEqualTo(1));
        GroupCommitter.Stats after = stats();
        long writes = after.writes() - before.writes();
        assertThat(writes).isEqualTo(writers * insertsEach + raced * racers * 2); // losing CAS writes count too
        assertThat(after.commits() - before.commits()).as("commits for %d writes", writes).isLessThan(writes);

        store.close();
        try (SqliteJobStore fresh = SqliteJobStore.open(dataDir)) {
            assertThat(allIds(fresh)).containsAll(accepted).hasSize(writers * insertsEach + raced);
            for (JobRecord job : raceJobs) {
                JobRecord done = fresh.find(job.id()).orElseThrow();
                assertThat(done.status()).isEqualTo(JobStatus.SUCCEEDED);
                assertThat(done.version()).isEqualTo(2);
            }
        }
    }

    // ---- failures ------------------------------------------------------------------------------------------

    @Test
    void aFailingWriteFailsAloneWhileTheRestOfItsBatchCommits() throws Exception {
        JobRecord existing = store.insert(newJob()).job();
        JobRecord toRun = store.insert(newJob()).job();
        JobRecord toCorrupt = store.insert(newJob()).job();
        NewJob leftHalfDone = newJob();
        JobsTable table = new JobsTable(SqlDialect.SQLITE);

        CountDownLatch release = holdCommitter();
        List<Callable<Object>> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++) batch.add(() -> store.insert(newJob()));
        int duplicateId = batch.size();
        batch.add(() -> store.insert(new NewJob(existing.id(), JobSpec.python("dup"), "h", null, 1, Instant.now())));
        int badStatus = batch.size();
        batch.add(() -> store.committer().run(h -> h.createUpdate("UPDATE jobs SET status = 'bogus' WHERE id = :id")
                .bind("id", toCorrupt.id()).execute()));
        int throwsAfterWriting = batch.size();
        batch.add(() -> store.committer().run(h -> {
            table.insert(leftHalfDone).applyTo(h);
            throw new IllegalStateException("bug after a write");
        }));
        int firstKeyed = batch.size();
        batch.add(() -> store.insert(newJob("same-key")));
        batch.add(() -> store.insert(newJob("same-key")));
        int markRunning = batch.size();
        batch.add(() -> store.markRunning(toRun.id(), 0, 1, "n", Instant.now()));
        List<Future<Object>> futures = submitQueued(batch);
        GroupCommitter.Stats before = stats();

        release.countDown();

        assertThat(failureOf(futures.get(duplicateId))).hasMessageContaining("UNIQUE");
        assertThat(failureOf(futures.get(badStatus))).hasMessageContaining("CHECK");
        assertThat(failureOf(futures.get(throwsAfterWriting))).isInstanceOf(IllegalStateException.class)
                .hasMessage("bug after a write");
        for (int i = 0; i < duplicateId; i++) {
            assertThat(((JobStore.Inserted) futures.get(i).get()).created()).isTrue();
        }
        JobStore.Inserted a = (JobStore.Inserted) futures.get(firstKeyed).get();
        JobStore.Inserted b = (JobStore.Inserted) futures.get(firstKeyed + 1).get();
        assertThat(List.of(a.created(), b.created())).as("one key inserted twice in one batch")
                .containsExactlyInAnyOrder(true, false);
        assertThat(a.job()).isEqualTo(b.job());
        assertThat((Boolean) futures.get(markRunning).get()).isTrue();
        assertThat(stats().commits() - before.commits()).as("the holding batch and this one").isEqualTo(2);

        store.close();
        try (SqliteJobStore fresh = SqliteJobStore.open(dataDir)) {
            for (int i = 0; i < duplicateId; i++) {
                String id = ((JobStore.Inserted) futures.get(i).get()).job().id();
                assertThat(fresh.find(id)).isPresent();
            }
            assertThat(fresh.find(a.job().id())).contains(a.job());
            assertThat(fresh.find(existing.id())).contains(existing);
            assertThat(fresh.find(toCorrupt.id())).contains(toCorrupt);
            assertThat(fresh.find(leftHalfDone.id())).as("the half-done write was rolled back").isEmpty();
            assertThat(fresh.find(toRun.id()).orElseThrow().status()).isEqualTo(JobStatus.RUNNING);
            assertThat(fresh.countByStatus().get(JobStatus.QUEUED)).isEqualTo(2 + 20 + 1);
        }
    }

    @Test
    void aLoneFailingWriteIsRolledBack() {
        NewJob half = newJob();
        JobsTable table = new JobsTable(SqlDialect.SQLITE);
        assertThatThrownBy(() -> store.committer().run(h -> {
            table.insert(half).applyTo(h);
            throw new IllegalStateException("bug after a write");
        })).hasMessage("bug after a write");
        assertThat(store.find(half.id())).isEmpty();
        assertThat(store.insert(newJob()).created()).isTrue();
    }

    @Test
    void aBatchWhoseCommitFailsFailsEveryWriteInIt() throws Exception {
        CountDownLatch release = holdCommitter();
        List<NewJob> jobs = new ArrayList<>();
        List<Callable<Object>> batch = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            NewJob job = newJob();
            jobs.add(job);
            batch.add(() -> store.insert(job));
        }
        // A deferred foreign key is only checked at COMMIT: this write succeeds, then the whole COMMIT fails.
        batch.add(() -> store.committer().run(h -> {
            h.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)");
            h.execute("CREATE TEMP TABLE child (parent_id INTEGER REFERENCES parent (id) "
                    + "DEFERRABLE INITIALLY DEFERRED)");
            return h.execute("INSERT INTO child (parent_id) VALUES (42)");
        }));
        List<Future<Object>> futures = submitQueued(batch);
        GroupCommitter.Stats before = stats();

        release.countDown();

        for (Future<Object> f : futures) {
            assertThat(failureOf(f)).as("no write of a failed commit may be reported as done")
                    .isInstanceOf(TransactionException.class)
                    .rootCause().hasMessageContaining("FOREIGN KEY constraint failed");
        }
        assertThat(stats().commits()).isEqualTo(before.commits() + 1); // the holding batch only
        for (NewJob job : jobs) assertThat(store.find(job.id())).isEmpty();
        // The committer carries on.
        JobRecord after = store.insert(newJob()).job();
        assertThat(store.find(after.id())).contains(after);
    }

    @Test
    void aWriteCannotStartAnotherWrite() {
        assertThatThrownBy(() -> store.committer().run(h -> store.insert(newJob())))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("must not start another write");
        assertThat(store.insert(newJob()).created()).isTrue();
    }

    @Test
    void argumentErrorsAreThrownByTheCallerWithoutReachingTheCommitter() {
        JobRecord job = store.insert(newJob()).job();
        GroupCommitter.Stats before = stats();
        assertThatThrownBy(() -> store.complete(job.id(), 0, JobStatus.RUNNING, OK, Instant.now()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.markRunning(job.id(), 0, 1, "n", null))
                .isInstanceOf(NullPointerException.class);
        assertThat(stats()).isEqualTo(before);
    }

    // ---- shutdown ------------------------------------------------------------------------------------------

    @Test
    void closeCommitsWhatIsQueuedAndRejectsLaterWrites() throws Exception {
        CountDownLatch release = holdCommitter();
        List<Callable<JobStore.Inserted>> inserts = new ArrayList<>();
        for (int i = 0; i < 50; i++) inserts.add(() -> store.insert(newJob()));
        List<Future<JobStore.Inserted>> queued = submitQueued(inserts);

        Thread closer = Thread.ofPlatform().start(store::close);
        waitUntil(() -> closer.getState() == Thread.State.WAITING); // closing, waiting for the committer
        assertThatThrownBy(() -> store.insert(newJob()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("job store is closed");
        release.countDown();
        closer.join();

        List<String> ids = new ArrayList<>();
        for (Future<JobStore.Inserted> f : queued) ids.add(f.get().job().id());
        assertThatThrownBy(() -> store.requeue(ids.getFirst(), 0, "test", Instant.now())).isInstanceOf(IllegalStateException.class);
        JobType type = new JobType("t", 1L << 20, 1, 1, 1, 8, false, Map.of(), null, 1, 1L << 20);
        assertThatThrownBy(() -> store.jobTypes().save(type)).isInstanceOf(IllegalStateException.class);
        store.close(); // idempotent

        try (SqliteJobStore fresh = SqliteJobStore.open(dataDir)) {
            assertThat(allIds(fresh)).containsExactlyInAnyOrderElementsOf(ids);
        }
    }

    @Test
    void jobTypeWritesGoThroughTheCommitter() {
        GroupCommitter.Stats before = stats();
        JobType type = new JobType("t", 1L << 20, 1, 1, 1, 8, false, Map.of(), null, 1, 1L << 20);
        store.jobTypes().save(type);
        assertThat(store.jobTypes().delete("t")).isTrue();
        assertThat(stats().commits() - before.commits()).isEqualTo(2);
    }
}
