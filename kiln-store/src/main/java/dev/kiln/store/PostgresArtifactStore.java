package dev.kiln.store;

import dev.kiln.core.Artifact;
import dev.kiln.core.ArtifactStore;
import dev.kiln.core.CollectedArtifact;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ArtifactStore} in the PostgreSQL store's database (tables {@code artifacts} and {@code artifact_chunks}), so
 * every replica serves every job's artifacts. The same checks as {@link FileArtifactStore}: job ids and names by
 * {@link ArtifactNames}, a collected file must be a regular file (never a link) of the size the node reported.
 * An import replaces the job's artifacts in one transaction, so a job has one attempt's complete set or none; the
 * collected files are deleted once it committed, as a move would.
 */
final class PostgresArtifactStore implements ArtifactStore {
    /** Bytes per row of {@code artifact_chunks}: bounds what an import or a read holds in memory. */
    static final int CHUNK_BYTES = 1 << 20;
    private static final Logger log = LoggerFactory.getLogger(PostgresArtifactStore.class);

    private final Jdbi jdbi;
    private final StoreFailures failures;

    PostgresArtifactStore(Jdbi jdbi, StoreFailures failures) {
        this.jdbi = jdbi;
        this.failures = failures;
    }

    @Override
    public List<Artifact> importArtifacts(String jobId, List<CollectedArtifact> artifacts) throws IOException {
        ArtifactNames.requireJobId(jobId);
        ArtifactNames.requireValidAndDistinct(artifacts);
        for (CollectedArtifact a : artifacts) {
            if (!Files.isRegularFile(a.file(), LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("collected artifact " + a.file() + " is not a regular file");
            }
        }
        try {
            failures.write(() -> jdbi.inTransaction(h -> {
                // Two imports of one job at once would race for its (job_id, name) rows: the second waits here.
                h.createQuery("SELECT pg_advisory_xact_lock(hashtext(:job))").bind("job", jobId)
                        .mapTo(String.class).one();
                h.createUpdate("DELETE FROM artifacts WHERE job_id = :job").bind("job", jobId).execute();
                for (CollectedArtifact a : artifacts) insert(h, jobId, a);
                return null;
            }));
        } catch (UncheckedIOException e) {
            throw e.getCause(); // the collected file's, not the database's: rolled back
        }
        for (CollectedArtifact a : artifacts) {
            try {
                Files.deleteIfExists(a.file());
            } catch (IOException e) {
                log.warn("artifact {} of {} stored, but its collected file could not be deleted: {}", a.name(),
                        jobId, e.toString());
            }
        }
        return artifacts.stream().map(CollectedArtifact::toArtifact).toList();
    }

    private static void insert(Handle h, String jobId, CollectedArtifact a) {
        long id = h.createQuery("INSERT INTO artifacts (job_id, name, size, sha256) "
                        + "VALUES (:job, :name, :size, :sha) RETURNING id")
                .bind("job", jobId).bind("name", a.name()).bind("size", a.size()).bind("sha", a.sha256())
                .mapTo(Long.class).one();
        long total = 0;
        byte[] buffer = new byte[CHUNK_BYTES];
        // NOFOLLOW_LINKS again at open: the file cannot have been swapped for a link since the check.
        try (InputStream in = Files.newInputStream(a.file(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            for (int chunk = 0; ; chunk++) {
                int n = in.readNBytes(buffer, 0, CHUNK_BYTES);
                if (n == 0) break;
                total += n;
                if (total > a.size()) break; // longer than reported: refused below, without storing the rest
                h.createUpdate("INSERT INTO artifact_chunks (artifact_id, chunk, data) VALUES (:id, :chunk, :data)")
                        .bind("id", id).bind("chunk", chunk)
                        .bind("data", n == CHUNK_BYTES ? buffer : Arrays.copyOf(buffer, n)).execute();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (total != a.size()) {
            throw new UncheckedIOException(new IOException("artifact '" + a.name() + "' has "
                    + (total > a.size() ? "more than " : "") + total + " bytes, expected " + a.size()));
        }
    }

    @Override
    public Optional<InputStream> open(String jobId, String name) {
        if (!ArtifactNames.isJobId(jobId) || !ArtifactNames.isName(name)) return Optional.empty();
        return failures.read(() -> jdbi.withHandle(h -> h.createQuery(
                                "SELECT id, size FROM artifacts WHERE job_id = :job AND name = :name")
                        .bind("job", jobId).bind("name", name)
                        .map((rs, ctx) -> new ArtifactChunkStream(jdbi, rs.getLong("id"), rs.getLong("size")))
                        .findOne()))
                .map(InputStream.class::cast);
    }

    @Override
    public void deleteAll(String jobId) {
        ArtifactNames.requireJobId(jobId);
        failures.write(() -> jdbi.withHandle(h -> h.createUpdate("DELETE FROM artifacts WHERE job_id = :job")
                .bind("job", jobId).execute()));
    }
}
