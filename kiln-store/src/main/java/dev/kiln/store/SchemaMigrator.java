package dev.kiln.store;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** Brings a database's schema up to date with the Flyway migrations of one dialect. */
final class SchemaMigrator {
    static final String SQLITE = "classpath:db/migration/sqlite";

    private SchemaMigrator() {
    }

    static void migrate(DataSource dataSource, String location) {
        Flyway.configure()
                .dataSource(dataSource)
                .locations(location)
                .failOnMissingLocations(true)
                .load()
                .migrate();
    }
}
