package dev.kiln.store;

import dev.kiln.core.NodeStore;
import dev.kiln.core.testing.InMemoryNodeStore;

class InMemoryNodeStoreContractTest extends NodeStoreContract {
    @Override
    protected NodeStore nodes() {
        return new InMemoryNodeStore();
    }
}
