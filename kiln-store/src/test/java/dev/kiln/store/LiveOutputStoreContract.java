package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.LiveOutputStore;
import dev.kiln.core.LiveOutputStore.StoredChunk;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What every SQL backend's mirrored live output must do. */
abstract class LiveOutputStoreContract {
    protected abstract LiveOutputStore liveOutput();

    @Test
    void chunksComeBackInOrderAfterASeqOncePerSeqAndGoWithTheJob() {
        LiveOutputStore store = liveOutput();
        store.append("job-1", List.of(new StoredChunk(1, "stdout", "a"), new StoredChunk(2, "stderr", "b ✓")));
        store.append("job-1", List.of(new StoredChunk(2, "stderr", "b ✓"), new StoredChunk(3, "stdout", "c")));
        store.append("job-2", List.of(new StoredChunk(1, "stdout", "other")));
        store.append("job-2", List.of());
        assertThat(store.since("job-1", 0, 10)).containsExactly(new StoredChunk(1, "stdout", "a"),
                new StoredChunk(2, "stderr", "b ✓"), new StoredChunk(3, "stdout", "c"));
        assertThat(store.since("job-1", 1, 1)).containsExactly(new StoredChunk(2, "stderr", "b ✓"));
        store.delete("job-1");
        assertThat(store.since("job-1", 0, 10)).isEmpty();
        assertThat(store.since("job-2", 0, 10)).hasSize(1);
    }
}
