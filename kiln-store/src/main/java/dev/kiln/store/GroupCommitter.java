package dev.kiln.store;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.transaction.TransactionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit: every write to the database goes through here. Callers on any thread (virtual ones too) hand in a
 * {@link Write} and wait; the committer thread takes everything queued (up to {@link #MAX_BATCH}), runs it all in
 * one transaction and commits once, so one fsync of the WAL covers the whole batch instead of one fsync per write.
 * Only after that commit does a caller's {@link #run} return, so a write that returned normally is durable.
 *
 * <p>There is no timer and no linger: the committer batches whatever is already queued when it wakes up, and a
 * caller that is the only one in {@link #run} while nobody is writing commits its write itself, on its own thread,
 * as if there were no committer: a lone caller pays no thread hand-off (measured at 20 to 150 us per write on a
 * small VM, up to a third of a write's latency). Under load the queue fills while a batch is fsyncing, so batches grow by
 * themselves exactly when it pays, and all of them run on the committer thread, a platform thread: a virtual
 * caller is pinned to its carrier (SQLite is native code) only for its own lone write, as it was before group
 * commit for every write.
 *
 * <p>Unsynced writes ({@link #runUnsynced}): a batch holding only those commits with {@code synchronous=NORMAL}, so
 * its commit writes the WAL without an fsync. The commit survives a crash of this process (the WAL is in the
 * operating system's page cache) but not a power loss or kernel crash; the next synced commit makes it durable too,
 * since the WAL is written in order. A batch holding any synced write is synced as a whole.
 *
 * <p>Failures: each write of a batch runs under its own {@code SAVEPOINT}, so a write that throws (a constraint
 * violation, a bug) is rolled back alone and fails only its own caller, while the rest of the batch commits. When
 * the batch as a whole cannot commit (COMMIT itself fails, or the transaction cannot be kept consistent), it is
 * rolled back and every caller in it gets an exception; none was told it succeeded.
 *
 * <p>Shutdown: {@link #close} lets the committer finish everything queued before it, then fails whatever raced in
 * after; writes submitted after close fail with {@link IllegalStateException}. No caller is left waiting.
 */
final class GroupCommitter implements AutoCloseable {
    /** Most writes per transaction: bounds a batch's time holding the write lock and its rollback cost. */
    static final int MAX_BATCH = 512;

    private static final Logger log = LoggerFactory.getLogger(GroupCommitter.class);
    // The same name for every write's savepoint: they never nest, each is released before the next is taken.
    private static final String SAVEPOINT = "kiln_write";

    /**
     * A unit of work run inside a group commit's transaction. It should only run SQL: checks and serialization
     * belong on the caller's thread, before {@link #run}, since the committer is the one thread all writes share.
     */
    @FunctionalInterface
    interface Write<T> {
        T applyTo(Handle handle);
    }

    /**
     * Since the committer started: successful commits, and the writes that ran without throwing in them (a
     * compare-and-set that did not apply counts too: it was answered by that commit).
     */
    record Stats(long commits, long writes) {
    }

    private final Jdbi writer;
    // Held by whoever is running a transaction: the committer thread for a batch, or a lone caller for its write.
    private final ReentrantLock writing = new ReentrantLock();
    // Unbounded, yet no deeper than the number of waiting callers: each caller waits for its own write.
    private final LinkedBlockingQueue<Pending<?>> queue = new LinkedBlockingQueue<>();
    // Threads inside run(): one means a lone caller.
    private final AtomicInteger callers = new AtomicInteger();
    // Writes handed in and not yet taken into a batch (the queue, plus the one the committer woke up with).
    private final AtomicInteger waiting = new AtomicInteger();
    private final Pending<Void> stop = new Pending<>(h -> null, true);
    private final Thread thread;
    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong committedWrites = new AtomicLong();
    private volatile boolean closed;

    /** Starts the committer thread; every write must then go through {@link #run} on {@code writer}. */
    GroupCommitter(Jdbi writer) {
        this.writer = writer;
        // A platform thread: it spends its time in native SQLite calls, which would pin a virtual thread anyway.
        this.thread = Thread.ofPlatform().name("kiln-sqlite-committer").daemon(true).unstarted(this::commitLoop);
        thread.start();
    }

    /**
     * Runs {@code write} in the next group commit and returns its result once that commit is durable.
     * Waits without being interruptible: once handed in, the write will be committed or failed in bounded time,
     * and giving up early would leave the caller not knowing whether it happened.
     *
     * @throws IllegalStateException when the committer is closed
     * @throws RuntimeException      what {@code write} threw, or a {@link TransactionException} when its batch
     *                               failed to commit (the write was rolled back)
     */
    <T> T run(Write<T> write) {
        return run(write, true);
    }

    /**
     * Like {@link #run}, but returns once the commit is in the WAL, without waiting for an fsync: the write survives
     * a crash of this process, not a power loss. For writes whose loss on power failure is harmless by design.
     */
    <T> T runUnsynced(Write<T> write) {
        return run(write, false);
    }

    private <T> T run(Write<T> write, boolean synced) {
        if (writing.isHeldByCurrentThread()) {
            // From inside a write: it would wait for its own transaction forever.
            throw new IllegalStateException("a write must not start another write");
        }
        if (closed) throw closedException();
        callers.incrementAndGet();
        try {
            return submit(new Pending<>(write, synced));
        } finally {
            callers.decrementAndGet();
        }
    }

    private <T> T submit(Pending<T> pending) {
        // Alone in here, and nobody writing: a batch of one, on this thread, without waking the committer. With
        // any other caller inside, even one just woken from the last batch and about to return, the write goes
        // to the committer instead, so that writes arriving together are committed together.
        if (callers.get() == 1 && writing.tryLock()) {
            try {
                if (closed) throw closedException();
                commitBatch(List.of(pending));
            } finally {
                writing.unlock();
            }
            return pending.await();
        }
        waiting.incrementAndGet();
        queue.add(pending);
        // close() may have run between the check and the add, after the committer's last look at the queue.
        // Whoever removes the write completes it: we here, the committer, or close()'s final sweep.
        if (closed && queue.remove(pending)) {
            waiting.decrementAndGet();
            throw closedException();
        }
        return pending.await();
    }

    Stats stats() {
        return new Stats(commits.get(), committedWrites.get());
    }

    /** Writes handed in and not yet taken into a batch (for tests that line up a batch). */
    int queued() {
        return waiting.get();
    }

    /** Commits everything queued so far, then stops; writes that raced with closing fail. Idempotent. */
    @Override
    public synchronized void close() {
        if (writing.isHeldByCurrentThread()) throw new IllegalStateException("a write must not close the store");
        if (closed) return;
        closed = true;
        queue.add(stop); // behind every write queued so far: they all still commit
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true; // the committer finishes its batch regardless; wait for it
            }
        }
        // A lone caller may still be committing its own write; later ones see closed and give up.
        writing.lock();
        writing.unlock();
        for (Pending<?> late; (late = queue.poll()) != null; ) late.fail(closedException());
        if (interrupted) Thread.currentThread().interrupt();
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("job store is closed");
    }

    private void commitLoop() {
        List<Pending<?>> batch = new ArrayList<>(MAX_BATCH);
        boolean stopping = false;
        while (!stopping) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                continue; // nobody interrupts this thread; close() stops it with the stop marker
            }
            writing.lock(); // a lone caller may be committing; what queues meanwhile joins this batch
            try {
                queue.drainTo(batch, MAX_BATCH - 1);
                stopping = batch.remove(stop);
                waiting.addAndGet(-batch.size());
                if (!batch.isEmpty()) commitBatch(batch);
            } catch (Throwable e) {
                // commitBatch completes every write itself; this is only so that a bug there cannot kill the
                // thread and leave every later caller waiting forever.
                log.error("group committer failed", e);
                for (Pending<?> p : batch) p.fail(e);
            } finally {
                writing.unlock();
            }
            batch.clear();
        }
    }

    /** One transaction for the whole batch; completes every write's caller, whatever happens. */
    private void commitBatch(List<Pending<?>> batch) {
        Throwable batchFailure = null;
        Handle h = null;
        try {
            h = writer.open();
            runInOneTransaction(h, batch);
        } catch (Throwable e) {
            batchFailure = e;
            if (h != null) rollbackQuietly(h, e);
        } finally {
            if (h != null) closeQuietly(h);
        }
        if (batchFailure == null) {
            batch.forEach(Pending::complete);
            return;
        }
        // Each caller gets the failure (and the store logs an outage once); the stack here only while debugging.
        log.warn("group commit of {} writes failed; all were rolled back: {}", batch.size(), batchFailure.toString());
        log.debug("group commit failure", batchFailure);
        for (Pending<?> p : batch) {
            p.fail(new TransactionException("the transaction holding this write failed; it was rolled back",
                    batchFailure));
        }
    }

    /**
     * Runs each write under its own savepoint (a lone write needs none: the transaction is its savepoint) and
     * commits once. Throws only when the batch as a whole failed.
     */
    private void runInOneTransaction(Handle h, List<Pending<?>> batch) throws SQLException {
        boolean isolate = batch.size() > 1;
        boolean synced = false;
        for (Pending<?> p : batch) synced |= p.synced;
        int applied = 0;
        try (Statement control = h.getConnection().createStatement()) {
            // Set for every batch (outside a transaction, as SQLite requires), never restored afterwards: a batch
            // never depends on what an earlier one left on the connection.
            control.execute(synced ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
            applied = applyAll(h, control, batch, isolate);
        }
        if (applied == 0) return;
        commits.incrementAndGet();
        committedWrites.addAndGet(applied);
    }

    /** Runs the batch in one transaction; commits when anything applied, else rolls back. Returns how many applied. */
    private static int applyAll(Handle h, Statement control, List<Pending<?>> batch, boolean isolate)
            throws SQLException {
        int applied = 0;
        h.begin();
        for (Pending<?> p : batch) {
            if (isolate) control.execute("SAVEPOINT " + SAVEPOINT);
            boolean ok = p.applyTo(h);
            if (isolate && !ok) {
                // Undoes whatever part of this write ran. If SQLite rolled the whole transaction back on its
                // own (SQLITE_FULL, IOERR, BUSY, NOMEM) the savepoint is gone and this throws: the batch fails.
                control.execute("ROLLBACK TO " + SAVEPOINT);
            }
            if (isolate) control.execute("RELEASE " + SAVEPOINT);
            if (ok) applied++;
        }
        if (applied > 0) {
            h.commit(); // the fsync that makes every write of the batch durable at once (none when unsynced)
        } else {
            h.rollback();
        }
        return applied;
    }

    private static void rollbackQuietly(Handle h, Throwable cause) {
        try {
            if (h.isInTransaction()) h.rollback();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    /** After the outcome is settled (committed or rolled back): a failure to close changes nothing for callers. */
    private static void closeQuietly(Handle h) {
        try {
            h.close();
        } catch (RuntimeException e) {
            log.warn("closing the writer connection failed: {}", e.toString());
        }
    }

    /** One caller's write and, once the committer is done with it, its outcome. */
    private static final class Pending<T> {
        private final Write<T> write;
        private final boolean synced;
        private final CompletableFuture<T> outcome = new CompletableFuture<>();
        // Written and read by the thread running the batch only; the future publishes the outcome to the caller.
        private T result;
        private Throwable failure;

        Pending(Write<T> write, boolean synced) {
            this.write = write;
            this.synced = synced;
        }

        /** Runs the write; false when it threw, which is then its outcome. */
        boolean applyTo(Handle h) {
            try {
                result = write.applyTo(h);
                return true;
            } catch (VirtualMachineError e) {
                throw e; // not this write's fault: the whole batch fails
            } catch (Throwable e) {
                failure = e;
                return false;
            }
        }

        /** The batch committed (or held nothing to commit): report this write's own outcome. */
        void complete() {
            if (failure != null) outcome.completeExceptionally(failure);
            else outcome.complete(result);
        }

        /** The batch did not commit: this write did not happen, whatever it returned. */
        void fail(Throwable e) {
            outcome.completeExceptionally(failure != null ? failure : e);
        }

        T await() {
            try {
                return outcome.join();
            } catch (CompletionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) throw r;
                if (cause instanceof Error err) throw err;
                throw new IllegalStateException("write failed", cause);
            }
        }
    }
}
