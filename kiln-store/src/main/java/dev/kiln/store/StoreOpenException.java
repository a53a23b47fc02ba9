package dev.kiln.store;

/**
 * The store cannot be opened: the database is unreachable, refuses the login, or its schema cannot be migrated.
 * The message names the store (password masked) and says why; start-up stops with it.
 */
public final class StoreOpenException extends RuntimeException {
    public StoreOpenException(String message, Throwable cause) {
        super(message, cause);
    }

    /** What the driver or the database said: the innermost SQL error's message (else the innermost cause's). */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        java.sql.SQLException sql = null;
        for (; t.getCause() != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof java.sql.SQLException s) sql = s;
        }
        if (t instanceof java.sql.SQLException s) sql = s;
        Throwable said = sql != null ? sql : t;
        return said.getMessage() == null ? said.toString() : said.getMessage();
    }
}
