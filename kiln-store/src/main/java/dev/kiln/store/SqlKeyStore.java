package dev.kiln.store;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KeyStore;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.StatementContext;

/** API keys in the jobs' database (table {@code api_keys}); writes as the job store writes. */
final class SqlKeyStore implements KeyStore {
    private static final String COLUMNS = "id, namespace, role, created_at, created_by, revoked_at";

    private final TableWrite.Runner writes;
    private final Jdbi reader;
    private final StoreFailures failures;

    SqlKeyStore(TableWrite.Runner writes, Jdbi reader, StoreFailures failures) {
        this.writes = writes;
        this.reader = reader;
        this.failures = failures;
    }

    @Override
    public void create(ApiKey key, String hash) {
        failures.write(() -> writes.run(h -> h.createUpdate("INSERT INTO api_keys (id, key_hash, namespace, role, "
                        + "created_at, created_by, revoked_at) VALUES (:id, :hash, :ns, :role, :at, :by, NULL)")
                .bind("id", key.id()).bind("hash", hash).bind("ns", key.namespace())
                .bind("role", key.role().wireName()).bind("at", key.createdAt().toEpochMilli())
                .bind("by", key.createdBy()).execute()));
    }

    @Override
    public Optional<ApiKey> findByHash(String hash) {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS
                        + " FROM api_keys WHERE key_hash = :hash").bind("hash", hash)
                .map(SqlKeyStore::key).findOne()));
    }

    @Override
    public List<ApiKey> list() {
        return failures.read(() -> reader.withHandle(h -> h.createQuery("SELECT " + COLUMNS
                + " FROM api_keys ORDER BY created_at, id").map(SqlKeyStore::key).list()));
    }

    @Override
    public boolean revoke(String id, Instant at) {
        return failures.write(() -> writes.run(h -> h.createUpdate(
                        "UPDATE api_keys SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL")
                .bind("id", id).bind("at", at.toEpochMilli()).execute())) > 0;
    }

    private static ApiKey key(ResultSet rs, StatementContext ctx) throws SQLException {
        long revoked = rs.getLong("revoked_at");
        boolean wasRevoked = !rs.wasNull();
        return new ApiKey(rs.getString("id"), rs.getString("namespace"), ApiKey.Role.parse(rs.getString("role")),
                Instant.ofEpochMilli(rs.getLong("created_at")), rs.getString("created_by"),
                wasRevoked ? Instant.ofEpochMilli(revoked) : null);
    }
}
