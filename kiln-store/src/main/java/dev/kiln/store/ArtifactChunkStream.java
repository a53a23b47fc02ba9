package dev.kiln.store;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * Reads one stored artifact chunk by chunk, one query per chunk, so a large artifact is never held in memory and no
 * connection is held between reads. The artifact's id is fixed when it is opened: if it is replaced or deleted
 * meanwhile, the next chunk is missing and the read fails instead of mixing two versions.
 */
final class ArtifactChunkStream extends InputStream {
    private final Jdbi jdbi;
    private final long artifactId;
    private final long size;
    private byte[] chunk = new byte[0];
    private int next; // index of the next chunk to fetch
    private int offset; // within chunk
    private long position;

    ArtifactChunkStream(Jdbi jdbi, long artifactId, long size) {
        this.jdbi = jdbi;
        this.artifactId = artifactId;
        this.size = size;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) return 0;
        if (offset == chunk.length && !fetch()) return -1;
        int n = Math.min(len, chunk.length - offset);
        System.arraycopy(chunk, offset, b, off, n);
        offset += n;
        position += n;
        return n;
    }

    @Override
    public int available() {
        return chunk.length - offset;
    }

    /** False at the end; throws when a chunk is missing before it. */
    private boolean fetch() throws IOException {
        if (position >= size) return false;
        Optional<byte[]> data;
        try {
            data = jdbi.withHandle(h -> h.createQuery(
                            "SELECT data FROM artifact_chunks WHERE artifact_id = :id AND chunk = :chunk")
                    .bind("id", artifactId).bind("chunk", next).mapTo(byte[].class).findOne());
        } catch (RuntimeException e) {
            throw new IOException("cannot read the artifact from the database: " + e.getMessage(), e);
        }
        if (data.isEmpty() || data.get().length == 0) {
            throw new IOException("artifact was replaced or deleted while being read (at byte " + position + ")");
        }
        chunk = data.get();
        offset = 0;
        next++;
        return true;
    }
}
