package dev.kiln.core;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * What running jobs have printed so far, for followers ({@code GET /jobs/{id}/output?follow=true}): decoded as UTF-8
 * across chunk boundaries, replayed to a follower that joins late, and dropped when the job ends. Memory is bounded
 * by the output caps, which the executors enforce before anything reaches here.
 */
public final class LiveOutput {
    /** A piece of text one stream printed; {@code end} (stream null) closes the follow. */
    public record Chunk(String stream, String text) {
        public boolean isEnd() {
            return stream == null;
        }
    }

    private static final Chunk END = new Chunk(null, null);

    /**
     * Where a job's output also goes once a follower on another replica asked for it ({@link #mirror}): called
     * under the job's lock, in order, so it must only hand the chunk on.
     */
    public interface Mirror {
        void chunk(String jobId, String executionId, Chunk chunk);

        /** The job ended here: nothing more comes. */
        void ended(String jobId);
    }

    private final Map<String, JobOutput> jobs = new ConcurrentHashMap<>();
    private final long maxBytesPerJob;

    /** {@code maxBytesPerJob}: what one execution may add in all (a remote node is not trusted to cap it). */
    public LiveOutput(long maxBytesPerJob) {
        this.maxBytesPerJob = maxBytesPerJob;
    }

    /** One job's output: what was printed so far and who follows it. */
    private static final class JobOutput {
        final String jobId;
        final String executionId;
        final List<Chunk> chunks = new ArrayList<>();
        final List<Consumer<Chunk>> followers = new CopyOnWriteArrayList<>();
        CharsetDecoder decoder; // made on the first output: most jobs print nothing while nobody follows
        // Per stream: the bytes of a UTF-8 sequence cut by a chunk boundary, prepended to the next chunk.
        final Map<String, byte[]> rest = new java.util.HashMap<>();
        long bytes;
        boolean ended;
        Mirror mirror; // null: nobody elsewhere follows

        JobOutput(String jobId, String executionId) {
            this.jobId = jobId;
            this.executionId = executionId;
        }
    }

    private static CharsetDecoder decoder() {
        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
    }

    /** An execution of the job started: an earlier attempt's output is forgotten, its followers stay. */
    void started(String jobId, String executionId) {
        JobOutput fresh = new JobOutput(jobId, executionId);
        JobOutput old = jobs.put(jobId, fresh);
        if (old == null) return;
        synchronized (old) {
            old.ended = true;
            fresh.followers.addAll(old.followers);
            old.followers.clear();
            fresh.mirror = old.mirror;
        }
    }

    void append(String jobId, String executionId, String stream, byte[] bytes) {
        JobOutput o = jobs.get(jobId);
        if (o == null || !o.executionId.equals(executionId)) return; // a stale execution's
        synchronized (o) {
            if (o.ended || o.bytes + bytes.length > maxBytesPerJob) return;
            o.bytes += bytes.length;
            byte[] before = o.rest.remove(stream);
            ByteBuffer in = ByteBuffer.allocate((before == null ? 0 : before.length) + bytes.length);
            if (before != null) in.put(before);
            in.put(bytes).flip();
            CharBuffer out = CharBuffer.allocate(in.remaining() + 1);
            if (o.decoder == null) o.decoder = decoder();
            o.decoder.reset();
            o.decoder.decode(in, out, false); // an incomplete sequence at the end is left in the buffer
            if (in.hasRemaining()) {
                byte[] left = new byte[in.remaining()];
                in.get(left);
                o.rest.put(stream, left);
            }
            out.flip();
            if (out.length() == 0) return;
            Chunk chunk = new Chunk(stream, out.toString());
            o.chunks.add(chunk);
            // Under the lock, so a follower joining now gets each chunk exactly once (replay or here).
            for (Consumer<Chunk> f : o.followers) f.accept(chunk);
            if (o.mirror != null) o.mirror.chunk(jobId, o.executionId, chunk);
        }
    }

    /** The job ended (any terminal state): followers are told and the buffer goes. */
    void finished(String jobId) {
        JobOutput o = jobs.remove(jobId);
        if (o != null) end(o);
    }

    private static void end(JobOutput o) {
        synchronized (o) {
            if (o.ended) return;
            o.ended = true;
            for (Consumer<Chunk> f : o.followers) f.accept(END);
            o.followers.clear();
            if (o.mirror != null) o.mirror.ended(o.jobId);
        }
    }

    /**
     * From now on the job's output also goes to {@code mirror}, what it printed so far first. Returns false when
     * the job does not run here (or already mirrors: once is enough).
     */
    public boolean mirror(String jobId, Mirror mirror) {
        JobOutput o = jobs.get(jobId);
        if (o == null) return false;
        synchronized (o) {
            if (o.ended || o.mirror != null) return false;
            o.mirror = mirror;
            for (Chunk c : o.chunks) mirror.chunk(jobId, o.executionId, c);
        }
        return true;
    }

    /**
     * Replays what the job printed so far to {@code follower}, then calls it for every new chunk and once with an
     * end chunk. Returns false (calling nothing) when the job is not running. {@link #unfollow} stops it early.
     * The follower is called under a lock: it must only hand the chunk on (e.g. to a queue), never block.
     */
    public boolean follow(String jobId, Consumer<Chunk> follower) {
        JobOutput o = jobs.get(jobId);
        if (o == null) return false;
        synchronized (o) {
            if (o.ended) return false;
            o.chunks.forEach(follower);
            o.followers.add(follower);
        }
        return true;
    }

    public void unfollow(String jobId, Consumer<Chunk> follower) {
        JobOutput o = jobs.get(jobId);
        if (o != null) o.followers.remove(follower);
    }
}
