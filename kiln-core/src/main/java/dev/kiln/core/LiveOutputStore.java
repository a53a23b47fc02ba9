package dev.kiln.core;

import java.util.List;

/**
 * A running job's output on its way to followers connected to another replica: the replica running the job writes
 * it here once one of them asks ({@link StoreSignals.Topic#FOLLOW}), the followers' replica reads it on each
 * {@link StoreSignals.Topic#OUTPUT}. Rows go when the job ends (the job's result then has it all) or with the job.
 */
public interface LiveOutputStore {
    /** One piece of output, numbered from 1 per job in the order it was printed. */
    record StoredChunk(long seq, String stream, String text) {
    }

    LiveOutputStore NONE = new LiveOutputStore() {
        @Override
        public void append(String jobId, List<StoredChunk> chunks) {
        }

        @Override
        public List<StoredChunk> since(String jobId, long afterSeq, int limit) {
            return List.of();
        }

        @Override
        public void delete(String jobId) {
        }
    };

    void append(String jobId, List<StoredChunk> chunks);

    /** The job's chunks after {@code afterSeq}, in order, at most {@code limit}. */
    List<StoredChunk> since(String jobId, long afterSeq, int limit);

    void delete(String jobId);
}
