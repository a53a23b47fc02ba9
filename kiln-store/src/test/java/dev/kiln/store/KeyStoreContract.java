package dev.kiln.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ApiKey;
import dev.kiln.core.KeyStore;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** What every {@link KeyStore} backend must do. */
abstract class KeyStoreContract {
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    protected abstract KeyStore keys();

    @Test
    void keysAreFoundByHashListedAndRevokedOnce() {
        KeyStore store = keys();
        ApiKey a = new ApiKey("k1", "team-a", ApiKey.Role.USER, T0, "bootstrap", null);
        ApiKey b = new ApiKey("k2", "default", ApiKey.Role.ADMIN, T0.plusSeconds(1), "k1", null);
        store.create(a, "hash-a");
        store.create(b, "hash-b");
        assertThat(store.findByHash("hash-a")).contains(a);
        assertThat(store.findByHash("nope")).isEmpty();
        assertThat(store.list()).containsExactly(a, b);
        assertThat(store.revoke("k1", T0.plusSeconds(5))).isTrue();
        assertThat(store.revoke("k1", T0.plusSeconds(6))).isFalse();
        assertThat(store.revoke("absent", T0)).isFalse();
        assertThat(store.findByHash("hash-a").orElseThrow().revokedAt()).isEqualTo(T0.plusSeconds(5));
    }

    @Test
    void aHashIsNeverStoredTwice() {
        KeyStore store = keys();
        store.create(new ApiKey("k1", "a", ApiKey.Role.USER, T0, "x", null), "same");
        assertThatThrownBy(() -> store.create(new ApiKey("k2", "b", ApiKey.Role.USER, T0, "x", null), "same"))
                .isInstanceOf(RuntimeException.class);
    }
}
