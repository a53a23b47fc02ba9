package dev.kiln.store;

/**
 * What differs between the two databases, kept to a minimum so that every table's SQL lives in one class for both
 * (as db-scheduler's per-database JdbcCustomization does). The schemas differ in their DDL only (identity columns),
 * so each dialect has its own migrations.
 */
enum SqlDialect {
    /** One writer at a time (the {@link GroupCommitter}'s): a claim's subquery cannot race another claim. */
    SQLITE("classpath:db/migration/sqlite", ""),
    /** Concurrent writers, maybe in several processes: a claim locks the rows it takes and skips those locked. */
    POSTGRESQL("classpath:db/migration/postgresql", " FOR UPDATE SKIP LOCKED");

    private final String migrations;
    private final String lockRowsToClaim;

    SqlDialect(String migrations, String lockRowsToClaim) {
        this.migrations = migrations;
        this.lockRowsToClaim = lockRowsToClaim;
    }

    /** Flyway location of this dialect's migrations. */
    String migrations() {
        return migrations;
    }

    /** Appended to the SELECT that picks the rows a claim takes. */
    String lockRowsToClaim() {
        return lockRowsToClaim;
    }
}
