package dev.kiln.core.testing;

import dev.kiln.core.ExecutionRecord;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionStatus;
import dev.kiln.core.ErrorType;
import dev.kiln.core.JobError;
import dev.kiln.core.JobPage;
import dev.kiln.core.JobRecord;
import dev.kiln.core.JobResult;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobStore;
import dev.kiln.core.KilnException;
import dev.kiln.core.NewJob;
import dev.kiln.core.StoreUnavailableException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The reference {@link JobStore}: everything in memory, one lock, the same contract the SQLite and PostgreSQL stores
 * pass (kiln-store's {@code JobStoreContract} runs against it too). For unit tests of the scheduler and the
 * orchestrator with a controllable clock, as JobRunr's InMemoryStorageProvider is for JobRunr. {@link #failWrites}
 * makes it refuse writes the way a full disk does, to test what the orchestrator does during a store outage.
 */
public final class InMemoryJobStore implements JobStore {
    private final Map<String, JobRecord> jobs = new LinkedHashMap<>();
    private final Map<String, String> keys = new HashMap<>();
    private final Map<String, List<ExecutionRecord>> executions = new HashMap<>();
    private long seq;
    private volatile boolean failWrites;

    /** While true, every write throws {@link StoreUnavailableException} and changes nothing. */
    public void failWrites(boolean fail) {
        this.failWrites = fail;
    }

    private void checkWritable() {
        if (failWrites) throw new StoreUnavailableException("writes refused for the test", null);
    }

    @Override
    public synchronized Inserted insert(NewJob job) {
        checkWritable();
        String key = job.idempotencyKey();
        if (key != null && keys.containsKey(key)) {
            JobRecord holder = jobs.get(keys.get(key));
            if (job.keyNotBefore() == null || !holder.createdAt().isBefore(job.keyNotBefore())) {
                return new Inserted(holder, false);
            }
            jobs.put(holder.id(), with(holder, holder.status(), holder.version(), holder.attempt(), holder.nodeId(),
                    holder.startedAt(), holder.finishedAt(), holder.result(), null));
        }
        if (jobs.containsKey(job.id())) throw new IllegalStateException("duplicate job id " + job.id());
        JobRecord r = new JobRecord(job.id(), ++seq, JobStatus.QUEUED, job.spec(), job.specHash(), key, 0,
                job.maxAttempts(), 0, null, Instant.ofEpochMilli(job.createdAt().toEpochMilli()), null, null, null,
                job.namespace(), job.submittedBy());
        jobs.put(r.id(), r);
        if (key != null) keys.put(key, r.id());
        return new Inserted(r, true);
    }

    @Override
    public synchronized Optional<JobRecord> find(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    @Override
    public synchronized Optional<JobRecord> findByIdempotencyKey(String key, Instant notBefore) {
        JobRecord r = keys.containsKey(key) ? jobs.get(keys.get(key)) : null;
        if (r == null || (notBefore != null && r.createdAt().isBefore(notBefore))) return Optional.empty();
        return Optional.of(r);
    }

    @Override
    public synchronized JobPage list(String namespace, JobStatus status, int limit, String cursor) {
        if (limit < 1) throw KilnException.invalid("limit", "must be at least 1, got " + limit);
        long before = cursor == null ? Long.MAX_VALUE : parseCursor(cursor);
        List<JobRecord> matching = jobs.values().stream()
                .filter(j -> j.seq() < before && (status == null || j.status() == status)
                        && (namespace == null || namespace.equals(j.namespace())))
                .sorted(Comparator.comparingLong(JobRecord::seq).reversed())
                .limit(limit + 1L).toList();
        if (matching.size() <= limit) return new JobPage(matching, null);
        List<JobRecord> page = matching.subList(0, limit);
        return new JobPage(List.copyOf(page), Long.toString(page.getLast().seq()));
    }

    private static long parseCursor(String cursor) {
        try {
            long seq = Long.parseLong(cursor);
            if (seq > 0) return seq;
        } catch (NumberFormatException e) {
            // the client's error, below
        }
        throw KilnException.invalid("cursor", "is not a cursor returned by a previous page");
    }

    @Override
    public synchronized List<JobRecord> findByStatus(JobStatus status, int limit) {
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        return jobs.values().stream().filter(j -> j.status() == status)
                .sorted(Comparator.comparingLong(JobRecord::seq)).limit(limit).toList();
    }

    @Override
    public synchronized List<Boolean> markRunning(List<Claim> claims) {
        checkWritable();
        List<Boolean> applied = new ArrayList<>(claims.size());
        for (Claim c : claims) {
            JobRecord r = current(c.id(), c.expectedVersion(), JobStatus.RUNNING);
            if (r == null) {
                applied.add(false);
                continue;
            }
            Instant started = millis(c.startedAt());
            jobs.put(r.id(), with(r, JobStatus.RUNNING, r.version() + 1, c.attempt(), c.nodeId(), started,
                    r.finishedAt(), r.result(), r.idempotencyKey()));
            executions.computeIfAbsent(r.id(), k -> new ArrayList<>()).add(new ExecutionRecord(
                    ExecutionRequest.executionId(r.id(), c.attempt()), r.id(), c.attempt(), c.nodeId(),
                    ExecutionStatus.RUNNING, started, c.deadlineAt() == null ? null : millis(c.deadlineAt()), null,
                    false, null, null, c.leaseUntil() == null ? null : millis(c.leaseUntil())));
            applied.add(true);
        }
        return applied;
    }

    @Override
    public synchronized boolean adopt(String id, long expectedVersion, String nodeId) {
        checkWritable();
        JobRecord r = jobs.get(id);
        if (r == null || r.version() != expectedVersion || r.status() != JobStatus.RUNNING
                || !nodeId.equals(r.nodeId())) {
            return false;
        }
        jobs.put(id, r.withVersion(r.version() + 1));
        return true;
    }

    @Override
    public synchronized boolean requeue(String id, long expectedVersion, String reason, Instant at) {
        checkWritable();
        JobRecord r = current(id, expectedVersion, JobStatus.QUEUED);
        if (r == null) return false;
        jobs.put(id, with(r, JobStatus.QUEUED, r.version() + 1, r.attempt(), null, r.startedAt(), r.finishedAt(),
                r.result(), r.idempotencyKey()));
        endExecution(id, ExecutionStatus.INTERRUPTED, at, null,
                new JobError(ErrorType.SANDBOX_ERROR, reason, JobError.PHASE_EXECUTION));
        return true;
    }

    @Override
    public synchronized boolean complete(String id, long expectedVersion, JobStatus status, JobResult result,
                                         Instant finishedAt) {
        if (!status.isTerminal()) throw new IllegalArgumentException("complete needs a terminal status, got " + status);
        checkWritable();
        JobRecord r = current(id, expectedVersion, status);
        if (r == null) return false;
        jobs.put(id, with(r, status, r.version() + 1, r.attempt(), r.nodeId(), r.startedAt(), millis(finishedAt),
                result, r.idempotencyKey()));
        endExecution(id, ExecutionStatus.endingJob(status), finishedAt, result.exitCode(), result.error());
        return true;
    }

    private void endExecution(String jobId, ExecutionStatus status, Instant at, Integer exitCode, JobError error) {
        List<ExecutionRecord> list = executions.get(jobId);
        if (list == null || list.isEmpty() || list.getLast().status() != ExecutionStatus.RUNNING) return;
        ExecutionRecord e = list.removeLast();
        list.add(new ExecutionRecord(e.id(), e.jobId(), e.attempt(), e.nodeId(), status, e.startedAt(),
                e.deadlineAt(), millis(at), e.cancelRequested(), exitCode, error, e.leaseExpiresAt()));
    }

    @Override
    public synchronized List<JobRecord> findOverdue(Instant now, int limit) {
        List<Map.Entry<Instant, JobRecord>> overdue = new ArrayList<>();
        for (JobRecord j : jobs.values()) {
            if (j.status() != JobStatus.RUNNING) continue;
            List<ExecutionRecord> list = executions.getOrDefault(j.id(), List.of());
            if (list.isEmpty()) continue;
            ExecutionRecord e = list.getLast();
            if (e.status() == ExecutionStatus.RUNNING && e.deadlineAt() != null && e.deadlineAt().isBefore(now)) {
                overdue.add(Map.entry(e.deadlineAt(), j));
            }
        }
        return overdue.stream().sorted(Map.Entry.comparingByKey()).limit(limit).map(Map.Entry::getValue).toList();
    }

    @Override
    public synchronized int renewLeases(java.util.Collection<String> nodeIds, Instant until) {
        checkWritable();
        int renewed = 0;
        for (List<ExecutionRecord> list : executions.values()) {
            if (list.isEmpty()) continue;
            ExecutionRecord e = list.getLast();
            if (e.status() == ExecutionStatus.RUNNING && nodeIds.contains(e.nodeId())) {
                list.set(list.size() - 1, e.withLease(millis(until)));
                renewed++;
            }
        }
        return renewed;
    }

    @Override
    public synchronized List<JobRecord> findLeaseExpired(Instant now, int limit) {
        List<Map.Entry<Instant, JobRecord>> lapsed = new ArrayList<>();
        for (JobRecord j : jobs.values()) {
            if (j.status() != JobStatus.RUNNING) continue;
            List<ExecutionRecord> list = executions.getOrDefault(j.id(), List.of());
            if (list.isEmpty()) continue;
            ExecutionRecord e = list.getLast();
            if (e.status() == ExecutionStatus.RUNNING && e.leaseExpiresAt() != null
                    && e.leaseExpiresAt().isBefore(now)) {
                lapsed.add(Map.entry(e.leaseExpiresAt(), j));
            }
        }
        return lapsed.stream().sorted(Map.Entry.comparingByKey()).limit(limit).map(Map.Entry::getValue).toList();
    }

    @Override
    public synchronized boolean requestCancel(String jobId) {
        checkWritable();
        List<ExecutionRecord> list = executions.get(jobId);
        if (list == null || list.isEmpty() || list.getLast().status() != ExecutionStatus.RUNNING) return false;
        list.set(list.size() - 1, list.getLast().withCancelRequested());
        return true;
    }

    @Override
    public synchronized List<Purged> deleteFinishedBefore(Instant cutoff, int limit) {
        checkWritable();
        List<JobRecord> old = jobs.values().stream()
                .filter(j -> j.status().isTerminal() && j.finishedAt() != null && j.finishedAt().isBefore(cutoff))
                .sorted(Comparator.comparing(JobRecord::finishedAt)).limit(limit).toList();
        List<Purged> purged = new ArrayList<>();
        for (JobRecord j : old) {
            jobs.remove(j.id());
            executions.remove(j.id());
            if (j.idempotencyKey() != null) keys.remove(j.idempotencyKey(), j.id());
            purged.add(new Purged(j.id(), j.attempt()));
        }
        return purged;
    }

    @Override
    public synchronized List<ExecutionRecord> executions(String jobId) {
        return List.copyOf(executions.getOrDefault(jobId, List.of()));
    }

    @Override
    public synchronized Map<JobStatus, Long> countByStatus() {
        Map<JobStatus, Long> counts = new EnumMap<>(JobStatus.class);
        for (JobStatus s : JobStatus.values()) counts.put(s, 0L);
        for (JobRecord j : jobs.values()) counts.merge(j.status(), 1L, Long::sum);
        return counts;
    }

    @Override
    public boolean isHealthy() {
        return true;
    }

    @Override
    public void close() {
    }

    /** The row if it has {@code version} and may move to {@code to}, else null: the one compare-and-set. */
    private JobRecord current(String id, long version, JobStatus to) {
        JobRecord r = jobs.get(id);
        return r != null && r.version() == version && r.status().canTransitionTo(to) ? r : null;
    }

    private static Instant millis(Instant t) {
        return Instant.ofEpochMilli(t.toEpochMilli()); // the stores keep milliseconds
    }

    private static JobRecord with(JobRecord r, JobStatus status, long version, int attempt, String nodeId,
                                  Instant startedAt, Instant finishedAt, JobResult result, String key) {
        return new JobRecord(r.id(), r.seq(), status, r.spec(), r.specHash(), key, attempt, r.maxAttempts(), version,
                nodeId, r.createdAt(), startedAt, finishedAt, result, r.namespace(), r.submittedBy());
    }
}
