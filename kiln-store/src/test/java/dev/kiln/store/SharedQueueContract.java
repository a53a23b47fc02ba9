package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.ExecutionStatus;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.NewJob;
import dev.kiln.core.SharedQueue;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link SharedQueue#claimQueued}, for a {@link JobStoreContract} whose store offers it: mixed into the contract's
 * subclass, which supplies the two methods below.
 */
public interface SharedQueueContract {
    JobStore currentStore();

    JobStore anotherInstance();

    private static SharedQueue queue(JobStore store) {
        assertThat(store).as("the store offers SharedQueue").isInstanceOf(SharedQueue.class);
        return (SharedQueue) store;
    }

    private static JobRecord insert(JobStore store) {
        return store.insert(new NewJob(UUID.randomUUID().toString(), JobSpec.python("1"), null, null, 3,
                Instant.now())).job();
    }

    @Test
    default void claimTakesTheOldestQueuedJobsAsTheirNextAttempt() {
        JobStore store = currentStore();
        List<JobRecord> jobs = new ArrayList<>();
        for (int i = 0; i < 5; i++) jobs.add(insert(store));
        assertThat(store.markRunning(jobs.get(1).id(), 0, 1, "busy", Instant.now())).isTrue();
        assertThat(store.markRunning(jobs.get(3).id(), 0, 1, "busy", Instant.now())).isTrue();
        assertThat(store.requeue(jobs.get(3).id(), 1, "node lost", Instant.now())).isTrue(); // its first attempt counted
        Instant started = Instant.ofEpochMilli(1_800_000_000_123L);

        List<JobRecord> claimed = queue(store).claimQueued(2, "node-c", started);

        assertThat(claimed).extracting(JobRecord::id).containsExactly(jobs.get(0).id(), jobs.get(2).id());
        for (JobRecord c : claimed) {
            assertThat(c).isEqualTo(store.find(c.id()).orElseThrow());
            assertThat(c.status()).isEqualTo(JobStatus.RUNNING);
            assertThat(c.version()).isEqualTo(1);
            assertThat(c.attempt()).isEqualTo(1);
            assertThat(c.nodeId()).isEqualTo("node-c");
            assertThat(c.startedAt()).isEqualTo(started);
            ExecutionRecord e = store.executions(c.id()).getFirst();
            assertThat(e.id()).isEqualTo(c.id() + "-1");
            assertThat(e.status()).isEqualTo(ExecutionStatus.RUNNING);
            assertThat(e.nodeId()).isEqualTo("node-c");
            assertThat(e.startedAt()).isEqualTo(started);
        }
        JobRecord again = queue(store).claimQueued(10, "node-d", started).getFirst();
        assertThat(again.id()).isEqualTo(jobs.get(3).id());
        assertThat(again.attempt()).isEqualTo(2);
        assertThat(again.version()).isEqualTo(3);
        assertThat(store.executions(again.id())).extracting(ExecutionRecord::status)
                .containsExactly(ExecutionStatus.INTERRUPTED, ExecutionStatus.RUNNING);
        assertThat(queue(store).claimQueued(10, "node-d", started)).as("nothing left").isEmpty();
        assertThatThrownBy(() -> queue(store).claimQueued(0, "n", started))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    default void aClaimFencesWritersHoldingTheOldVersion() {
        JobStore store = currentStore();
        JobRecord job = insert(store);
        queue(store).claimQueued(1, "node-a", Instant.now());
        assertThat(store.markRunning(job.id(), 0, 1, "node-b", Instant.now())).isFalse();
        assertThat(store.find(job.id()).orElseThrow().nodeId()).isEqualTo("node-a");
    }

    /** Two replicas (store instances), several claimers each, race for one queue: every job is claimed once. */
    @Test
    @Timeout(120)
    default void concurrentClaimsFromTwoInstancesTakeDisjointJobs() throws Exception {
        JobStore first = currentStore();
        JobStore second = anotherInstance();
        int jobs = 300;
        for (int i = 0; i < jobs; i++) insert(first);
        Set<String> claimed = ConcurrentHashMap.newKeySet();
        AtomicInteger duplicates = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> claimers = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(6)) {
            for (int t = 0; t < 6; t++) {
                SharedQueue q = queue(t % 2 == 0 ? first : second);
                String node = "node-" + t;
                claimers.add(pool.submit(() -> {
                    start.await();
                    for (List<JobRecord> got; !(got = q.claimQueued(7, node, Instant.now())).isEmpty(); ) {
                        for (JobRecord j : got) if (!claimed.add(j.id())) duplicates.incrementAndGet();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : claimers) f.get();
        }
        assertThat(duplicates).hasValue(0);
        assertThat(claimed).hasSize(jobs);
        assertThat(first.countByStatus().get(JobStatus.RUNNING)).isEqualTo(jobs);
    }
}
