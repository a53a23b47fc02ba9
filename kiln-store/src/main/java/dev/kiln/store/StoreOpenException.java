package dev.kiln.store;

/**
 * The store cannot be opened: the database is unreachable, refuses the login, or its schema cannot be migrated.
 * The message names the store (password masked) and says why; start-up stops with it.
 */
public final class StoreOpenException extends RuntimeException {
    public StoreOpenException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The innermost cause's message: what the database or the driver said. */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
