package dev.kiln.store;

import dev.kiln.core.NodeToken;
import dev.kiln.core.NodeTokenStore;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.StatementContext;

/** Node join tokens in the jobs' database (table {@code node_tokens}); writes as the job store writes. */
final class SqlNodeTokenStore implements NodeTokenStore {
    private static final String COLUMNS = "id, node_id, created_at, created_by, revoked_at";

    private final TableWrite.Runner writes;
    private final Jdbi reader;
    private final StoreFailures failures;

    SqlNodeTokenStore(TableWrite.Runner writes, Jdbi reader, StoreFailures failures) {
        this.writes = writes;
        this.reader = reader;
        this.failures = failures;
    }

    @Override
    public void create(NodeToken token, String hash) {
        failures.write(() -> writes.run(h -> h.createUpdate("INSERT INTO node_tokens (id, token_hash, node_id, "
                        + "created_at, created_by, revoked_at) VALUES (:id, :hash, :node, :at, :by, NULL)")
                .bind("id", token.id()).bind("hash", hash).bind("node", token.nodeId())
                .bind("at", token.createdAt().toEpochMilli()).bind("by", token.createdBy()).execute()));
    }

    @Override
    public Optional<NodeToken> findByHash(String hash) {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS
                + " FROM node_tokens WHERE token_hash = :hash").bind("hash", hash).map(SqlNodeTokenStore::token)
                .findOne()));
    }

    @Override
    public List<NodeToken> list() {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS
                + " FROM node_tokens ORDER BY created_at, id").map(SqlNodeTokenStore::token).list()));
    }

    @Override
    public boolean bind(String id, String nodeId) {
        return failures.write(() -> writes.run(h -> h.createUpdate(
                        "UPDATE node_tokens SET node_id = :node WHERE id = :id AND node_id IS NULL")
                .bind("id", id).bind("node", nodeId).execute())) > 0;
    }

    @Override
    public boolean revoke(String id, Instant at) {
        return failures.write(() -> writes.run(h -> h.createUpdate(
                        "UPDATE node_tokens SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL")
                .bind("id", id).bind("at", at.toEpochMilli()).execute())) > 0;
    }

    private static NodeToken token(ResultSet rs, StatementContext ctx) throws SQLException {
        long revoked = rs.getLong("revoked_at");
        boolean wasRevoked = !rs.wasNull();
        return new NodeToken(rs.getString("id"), rs.getString("node_id"), Instant.ofEpochMilli(rs.getLong("created_at")),
                rs.getString("created_by"), wasRevoked ? Instant.ofEpochMilli(revoked) : null);
    }
}
