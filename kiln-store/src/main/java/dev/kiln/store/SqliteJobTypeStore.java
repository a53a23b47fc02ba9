package dev.kiln.store;

import dev.kiln.core.JobType;
import dev.kiln.core.JobTypeStore;
import dev.kiln.json.JobTypeJson;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import tools.jackson.databind.json.JsonMapper;

/**
 * Run-time job types in the same SQLite database as the jobs (table {@code job_types}). Writes go through the
 * jobs' {@link GroupCommitter}: it owns the one writer connection, and a rare job-type write simply rides along
 * in the next batch.
 */
final class SqliteJobTypeStore implements JobTypeStore {
    private final GroupCommitter committer;
    private final Jdbi reader;
    private final StoreFailures failures;
    private final JsonMapper json = JsonMapper.builder().build();

    SqliteJobTypeStore(GroupCommitter committer, Jdbi reader, StoreFailures failures) {
        this.committer = committer;
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
        failures.write(() -> committer.run(h -> h.createUpdate("""
                        INSERT INTO job_types (name, definition_json, updated_at) VALUES (:name, :definition, :now)
                        ON CONFLICT (name) DO UPDATE SET definition_json = excluded.definition_json,
                                                         updated_at = excluded.updated_at""")
                .bind("name", type.name()).bind("definition", definition).bind("now", now).execute()));
    }

    @Override
    public boolean delete(String name) {
        return failures.write(() -> committer.run(h -> h.createUpdate("DELETE FROM job_types WHERE name = :name")
                .bind("name", name).execute())) > 0;
    }
}
