package dev.kiln.store;

import dev.kiln.core.NodeStore;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.jdbi.v3.core.statement.StatementContext;

/**
 * Nodes in the jobs' database (table {@code nodes}), with SQL both dialects accept; writes go through the job store's
 * own way of writing, as {@link SqlJobTypeStore}'s do. A replica's periodic publish is one batch in one
 * transaction, whatever the number of nodes.
 */
final class SqlNodeStore implements NodeStore {
    private static final String COLUMNS = "id, replica, draining, removed, view_json, updated_at";

    private final TableWrite.Runner writes;
    private final Jdbi reader;
    private final StoreFailures failures;

    SqlNodeStore(TableWrite.Runner writes, Jdbi reader, StoreFailures failures) {
        this.writes = writes;
        this.reader = reader;
        this.failures = failures;
    }

    @Override
    public NodeRow joined(String id, String replica, String view, Instant at) {
        // A removed node comes back as a new one: not drained.
        failures.write(() -> writes.run(h -> h.createUpdate("""
                        INSERT INTO nodes (id, replica, draining, removed, view_json, updated_at)
                        VALUES (:id, :replica, 0, 0, :view, :at)
                        ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, view_json = excluded.view_json,
                            updated_at = excluded.updated_at, removed = 0,
                            draining = CASE WHEN nodes.removed = 1 THEN 0 ELSE nodes.draining END""")
                .bind("id", id).bind("replica", replica).bind("view", view).bind("at", at.toEpochMilli()).execute()));
        return find(id).orElseThrow();
    }

    @Override
    public void publish(String replica, Map<String, String> views, Instant at) {
        if (views.isEmpty()) return;
        long millis = at.toEpochMilli();
        failures.write(() -> writes.run(h -> {
            PreparedBatch batch = h.prepareBatch("""
                    INSERT INTO nodes (id, replica, draining, removed, view_json, updated_at)
                    VALUES (:id, :replica, 0, 0, :view, :at)
                    ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, view_json = excluded.view_json,
                        updated_at = excluded.updated_at""");
            views.forEach((id, view) -> batch.bind("id", id).bind("replica", replica).bind("view", view)
                    .bind("at", millis).add());
            return batch.execute().length;
        }));
    }

    @Override
    public Optional<NodeRow> find(String id) {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM nodes WHERE id = :id")
                .bind("id", id).map(SqlNodeStore::row).findOne()));
    }

    @Override
    public List<NodeRow> list() {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM nodes ORDER BY id")
                .map(SqlNodeStore::row).list()));
    }

    @Override
    public void setDraining(String id, boolean draining, Instant at) {
        failures.write(() -> writes.run(h -> h.createUpdate("""
                        INSERT INTO nodes (id, replica, draining, removed, view_json, updated_at)
                        VALUES (:id, NULL, :draining, 0, NULL, :at)
                        ON CONFLICT (id) DO UPDATE SET draining = excluded.draining""")
                .bind("id", id).bind("draining", draining ? 1 : 0).bind("at", at.toEpochMilli()).execute()));
    }

    @Override
    public void markRemoved(String id, Instant at) {
        failures.write(() -> writes.run(h -> h.createUpdate("UPDATE nodes SET removed = 1 WHERE id = :id")
                .bind("id", id).execute()));
    }

    @Override
    public void delete(String id) {
        failures.write(() -> writes.run(h -> h.createUpdate("DELETE FROM nodes WHERE id = :id").bind("id", id).execute()));
    }

    @Override
    public int deleteNotPublishedSince(Instant cutoff) {
        return failures.write(() -> writes.run(h -> h.createUpdate("DELETE FROM nodes WHERE updated_at < :cutoff")
                .bind("cutoff", cutoff.toEpochMilli()).execute()));
    }

    private static NodeRow row(ResultSet rs, StatementContext ctx) throws SQLException {
        return new NodeRow(rs.getString("id"), rs.getString("replica"), rs.getInt("draining") != 0,
                rs.getInt("removed") != 0, rs.getString("view_json"), Instant.ofEpochMilli(rs.getLong("updated_at")));
    }
}
