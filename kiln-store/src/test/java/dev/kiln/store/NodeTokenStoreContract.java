package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.NodeToken;
import dev.kiln.core.NodeTokenStore;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** What every {@link NodeTokenStore} backend must do. */
abstract class NodeTokenStoreContract {
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    protected abstract NodeTokenStore tokens();

    @Test
    void tokensAreFoundByHashBoundOnceAndRevokedOnce() {
        NodeTokenStore store = tokens();
        NodeToken bound = new NodeToken("t1", "n1", T0, "key_a", null);
        NodeToken open = new NodeToken("t2", null, T0.plusSeconds(1), "key_a", null);
        store.create(bound, "h1");
        store.create(open, "h2");
        assertThat(store.findByHash("h1")).contains(bound);
        assertThat(store.list()).containsExactly(bound, open);
        assertThat(store.bind("t1", "n9")).as("bound already").isFalse();
        assertThat(store.bind("t2", "n2")).isTrue();
        assertThat(store.bind("t2", "n3")).isFalse();
        assertThat(store.findByHash("h2").orElseThrow().nodeId()).isEqualTo("n2");
        assertThat(store.revoke("t1", T0.plusSeconds(5))).isTrue();
        assertThat(store.revoke("t1", T0.plusSeconds(6))).isFalse();
        assertThat(store.findByHash("h1").orElseThrow().revokedAt()).isEqualTo(T0.plusSeconds(5));
        assertThat(store.findByHash("nope")).isEmpty();
    }
}
