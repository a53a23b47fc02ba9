package dev.kiln.store;

import dev.kiln.core.StoreHealth;
import dev.kiln.core.StoreUnavailableException;
import java.sql.SQLException;
import java.time.Instant;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the database's failures (disk full, I/O error, locked, connection lost: {@link StoreUnavailableException})
 * from the caller's (a constraint violation, a bad argument: rethrown as they are), and remembers the latest
 * failure until an operation succeeds again, for {@code /health}. One per store; shared by every backend.
 */
final class StoreFailures {
    private static final Logger log = LoggerFactory.getLogger(StoreFailures.class);
    private static final int SQLITE_CONSTRAINT = 19;

    private record Failure(String problem, Instant since) {
    }

    /** Reads and writes apart: a full disk fails writes while reads still work, and a read must not hide that. */
    private final java.util.concurrent.atomic.AtomicReference<Failure> reads = new java.util.concurrent.atomic.AtomicReference<>();
    private final java.util.concurrent.atomic.AtomicReference<Failure> writes = new java.util.concurrent.atomic.AtomicReference<>();

    <T> T read(Supplier<T> operation) {
        return guard(operation, reads, "reads");
    }

    <T> T write(Supplier<T> operation) {
        return guard(operation, writes, "writes");
    }

    private static <T> T guard(Supplier<T> operation, java.util.concurrent.atomic.AtomicReference<Failure> slot,
                               String what) {
        T result;
        try {
            result = operation.get();
        } catch (RuntimeException e) {
            String problem = unavailability(e);
            if (problem == null) throw e;
            Failure before = slot.getAndUpdate(f -> f == null ? new Failure(problem, Instant.now())
                    : new Failure(problem, f.since()));
            if (before == null) log.error("job store {} failing: {}", what, problem, e);
            throw new StoreUnavailableException(problem, e);
        }
        if (slot.get() != null && slot.getAndSet(null) != null) log.info("job store {} work again", what);
        return result;
    }

    StoreHealth health() {
        Failure f = writes.get();
        if (f == null) f = reads.get();
        return f == null ? StoreHealth.OK : StoreHealth.failing(f.problem(), f.since());
    }

    /** A readable problem when {@code e} is the database's failure, null when it is the caller's. */
    static String unavailability(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StoreUnavailableException u) return u.getMessage();
            if (t instanceof SQLException sql) {
                String state = sql.getSQLState();
                if ((state != null && state.startsWith("23")) || sql.getErrorCode() == SQLITE_CONSTRAINT) return null;
                String message = sql.getMessage();
                return message == null ? sql.getClass().getSimpleName() : message.strip();
            }
        }
        return null;
    }
}
