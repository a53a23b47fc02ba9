package dev.kiln.server.http;

import dev.kiln.core.LiveOutput;
import dev.kiln.core.LiveOutputStore;
import dev.kiln.core.LiveOutputStore.StoredChunk;
import dev.kiln.core.StoreSignals;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live output between replicas. For the jobs this replica runs: once a follower on another replica asks
 * ({@link StoreSignals.Topic#FOLLOW}), the job's output so far and from then on is written to the
 * {@link LiveOutputStore} every {@link #FLUSH_MILLIS} (one batch per job) and announced
 * ({@link StoreSignals.Topic#OUTPUT}); the rows go when the job ends. For followers here of jobs running elsewhere:
 * {@link #watch} wakes them on each announcement and when the job finishes.
 */
public final class ReplicaLiveOutput implements LiveOutput.Mirror, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReplicaLiveOutput.class);
    static final long FLUSH_MILLIS = 100;

    private record Pending(String jobId, StoredChunk chunk) {
        static Pending end(String jobId) {
            return new Pending(jobId, null);
        }
    }

    private final LiveOutput live;
    private final LiveOutputStore store;
    private final StoreSignals signals;
    private final LinkedBlockingQueue<Pending> pending = new LinkedBlockingQueue<>();
    private final Map<String, AtomicLong> seqs = new ConcurrentHashMap<>();
    private final Map<String, Set<Semaphore>> watchers = new ConcurrentHashMap<>();
    private final Thread writer;
    private volatile boolean closed;

    public ReplicaLiveOutput(LiveOutput live, LiveOutputStore store, StoreSignals signals) {
        this.live = live;
        this.store = store;
        this.signals = signals;
        signals.subscribe((topic, id) -> {
            if (id == null || closed) return;
            switch (topic) {
                case FOLLOW -> live.mirror(id, this); // false: not running here, or mirrored already
                case OUTPUT, FINISHED -> wake(id);
                default -> {
                }
            }
        });
        this.writer = Thread.ofPlatform().name("kiln-live-output-mirror").daemon().start(this::writeLoop);
    }

    /** Whether other replicas may run jobs (a store shared with them): else every job runs here. */
    public boolean shared() {
        return store != LiveOutputStore.NONE;
    }

    /** Asks whichever replica runs the job to mirror its output (again: harmless when it already does). */
    public void askToMirror(String jobId) {
        signals.publish(StoreSignals.Topic.FOLLOW, jobId);
    }

    public List<StoredChunk> since(String jobId, long afterSeq) {
        return store.since(jobId, afterSeq, 1000);
    }

    /** A follower's wake-up: released on each announcement of more output and when the job finishes. */
    public Semaphore watch(String jobId) {
        Semaphore s = new Semaphore(0);
        watchers.computeIfAbsent(jobId, k -> ConcurrentHashMap.newKeySet()).add(s);
        return s;
    }

    public void unwatch(String jobId, Semaphore s) {
        watchers.computeIfPresent(jobId, (k, set) -> {
            set.remove(s);
            return set.isEmpty() ? null : set;
        });
    }

    private void wake(String jobId) {
        Set<Semaphore> set = watchers.get(jobId);
        if (set != null) set.forEach(Semaphore::release);
    }

    @Override
    public void chunk(String jobId, String executionId, LiveOutput.Chunk chunk) {
        long seq = seqs.computeIfAbsent(jobId, k -> new AtomicLong()).incrementAndGet();
        pending.add(new Pending(jobId, new StoredChunk(seq, chunk.stream(), chunk.text())));
    }

    @Override
    public void ended(String jobId) {
        pending.add(Pending.end(jobId));
    }

    private void writeLoop() {
        List<Pending> batch = new ArrayList<>();
        while (!closed) {
            try {
                batch.add(pending.take());
                Thread.sleep(FLUSH_MILLIS); // gather what else is printed meanwhile into the same write
                pending.drainTo(batch);
                flush(batch);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // Followers elsewhere miss this part live; they get it with the job's result.
                log.debug("mirroring live output failed", e);
            } finally {
                batch.clear();
            }
        }
    }

    private void flush(List<Pending> batch) {
        Map<String, List<StoredChunk>> byJob = new LinkedHashMap<>();
        List<String> endedJobs = new ArrayList<>();
        for (Pending p : batch) {
            if (p.chunk() == null) endedJobs.add(p.jobId());
            else byJob.computeIfAbsent(p.jobId(), k -> new ArrayList<>()).add(p.chunk());
        }
        byJob.forEach((job, chunks) -> {
            store.append(job, chunks);
            signals.publish(StoreSignals.Topic.OUTPUT, job);
        });
        for (String job : endedJobs) {
            seqs.remove(job);
            store.delete(job); // the job's result holds it all now
        }
    }

    @Override
    public void close() {
        closed = true;
        writer.interrupt();
    }

    /** Waits for a wake-up up to {@code millis}; true when woken. */
    static boolean await(Semaphore s, long millis) throws InterruptedException {
        boolean woken = s.tryAcquire(millis, TimeUnit.MILLISECONDS);
        s.drainPermits();
        return woken;
    }
}
