package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.server.config.NodeSettings;
import dev.kiln.store.StoreLocation;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * {@link JobsApiTest}'s whole suite against two replicas on one PostgreSQL: the suite talks to a replica with no
 * node of its own, so every job it submits is run by the other replica's node (taken from the shared queue), its
 * result is waited for, listed, cancelled and deduplicated across replicas.
 */
class ReplicasJobsApiTest extends JobsApiTest {
    private static TestDatabase database;
    private static TestServer runner;

    @Override
    protected TestServer startServer() throws Exception {
        database = TestPostgres.shared().newDatabase("replicas-api");
        StoreLocation store = StoreLocation.parse(database.storeUrl());
        runner = TestServer.start("noop", c -> c.withStore(store));
        return TestServer.start("noop", c -> c.withStore(store).withNodes(NodeSettings.DEFAULTS.withLocalNode(false)));
    }

    @Override
    protected void stopped() throws Exception {
        try {
            if (runner != null) runner.close();
        } finally {
            database.close();
        }
    }

    /** The replica the suite talks to has no node: the capacity is the other replica's. */
    @Override
    @Test
    void healthReportsStoreQueueAndCapacity() {
        JsonNode h = kiln.client.health();
        assertThat(h.get("status").asString()).isEqualTo("ok");
        assertThat(h.get("store").asString()).isEqualTo("ok");
        assertThat(h.get("capacity").asInt()).isZero();
        assertThat(runner.client.health().get("capacity").asInt()).isPositive();
    }
}
