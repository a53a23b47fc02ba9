package dev.kiln.store;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** Brings a database's schema up to date with the Flyway migrations of one dialect. */
final class SchemaMigrator {
    private SchemaMigrator() {
    }

    static void migrate(DataSource dataSource, SqlDialect dialect) {
        Flyway.configure()
                .dataSource(dataSource)
                .locations(dialect.migrations())
                .failOnMissingLocations(true)
                .load()
                .migrate();
    }
}
