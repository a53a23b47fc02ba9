package dev.kiln.store;

import dev.kiln.core.JobStore;
import dev.kiln.core.testing.InMemoryJobStore;

/** The reference backend passes the same contract as the real ones (its instances share nothing but this one). */
class InMemoryJobStoreContractTest extends JobStoreContract {
    private final InMemoryJobStore storage = new InMemoryJobStore();

    @Override
    protected JobStore createStore() {
        return storage;
    }
}
