package dev.kiln.store;

import dev.kiln.core.NodeTokenStore;
import dev.kiln.core.testing.InMemoryNodeTokenStore;

class InMemoryNodeTokenStoreContractTest extends NodeTokenStoreContract {
    @Override
    protected NodeTokenStore tokens() {
        return new InMemoryNodeTokenStore();
    }
}
