package dev.kiln.store;

import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeStore;
import dev.kiln.json.JobTypeJson;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import tools.jackson.databind.json.JsonMapper;

/**
 * Run-time job types in the jobs' database (table {@code job_types}), with SQL both dialects accept. Writes go
 * through the job store's own way of writing: under SQLite its {@link GroupCommitter}, which owns the one writer
 * connection (a rare job-type write simply rides along in the next batch); under PostgreSQL a transaction each.
 * The database's own failures become {@link dev.kiln.core.StoreUnavailableException}s ({@link StoreFailures}).
 */
final class SqlJobTypeStore implements JobTypeStore {
    private final TableWrite.Runner writes;
    private final Jdbi reader;
    private final StoreFailures failures;
    private final JsonMapper json = JsonMapper.builder().build();

    SqlJobTypeStore(TableWrite.Runner writes, Jdbi reader, StoreFailures failures) {
        this.writes = writes;
        this.reader = reader;
        this.failures = failures;
    }

    @Override
    public List<JobType> loadAll() {
        return failures.read(() -> reader.withHandle(h -> h.createQuery(
                        "SELECT definition_json FROM job_types ORDER BY name")
                .mapTo(String.class).map(text -> JobTypeJson.fromTree(json.readTree(text))).list()));
    }

    @Override
    public void save(JobType type) {
        String definition = json.writeValueAsString(JobTypeJson.toTree(type));
        long now = System.currentTimeMillis();
        failures.write(() -> writes.run(h -> h.createUpdate("""
                        INSERT INTO job_types (name, definition_json, updated_at) VALUES (:name, :definition, :now)
                        ON CONFLICT (name) DO UPDATE SET definition_json = excluded.definition_json,
                                                         updated_at = excluded.updated_at""")
                .bind("name", type.name()).bind("definition", definition).bind("now", now).execute()));
    }

    @Override
    public boolean delete(String name) {
        return failures.write(() -> writes.run(h -> h.createUpdate("DELETE FROM job_types WHERE name = :name")
                .bind("name", name).execute())) > 0;
    }
}
