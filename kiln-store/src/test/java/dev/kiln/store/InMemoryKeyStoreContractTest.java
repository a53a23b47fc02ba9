package dev.kiln.store;

import dev.kiln.core.KeyStore;
import dev.kiln.core.testing.InMemoryKeyStore;

class InMemoryKeyStoreContractTest extends KeyStoreContract {
    @Override
    protected KeyStore keys() {
        return new InMemoryKeyStore();
    }
}
