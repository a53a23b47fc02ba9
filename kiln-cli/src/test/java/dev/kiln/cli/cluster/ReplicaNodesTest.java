package dev.kiln.cli.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.testing.TestDatabase;
import dev.kiln.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The node API on any replica: two replicas on one PostgreSQL, a node connected to the first only, and every call
 * made through the second. It lists the node (with the replica holding it), drains it so that the first replica
 * gives it no work, resumes it, keeps the drain when the node moves to the second replica, and removes it.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ReplicaNodesTest {
    @TempDir
    Path dir;

    @Test
    void anyReplicaListsDrainsResumesAndRemovesEveryReplicasNodes() throws Exception {
        try (TestDatabase db = TestPostgres.shared().newDatabase("replica_nodes");
             KilnProcesses kiln = new KilnProcesses(dir)) {
            Files.writeString(dir.resolve("kiln.yaml"), "max_attempts: 3\n");
            int portA = KilnProcesses.freePort();
            int portB = KilnProcesses.freePort();
            String urlA = "http://127.0.0.1:" + portA;
            String urlB = "http://127.0.0.1:" + portB;
            Process a = replica(kiln, db, "a", portA);
            Process b = replica(kiln, db, "b", portB);
            kiln.awaitHealthy(urlA, a, "replica-a");
            kiln.awaitHealthy(urlB, b, "replica-b");
            KilnClient clientA = new KilnClient(urlA);
            KilnClient clientB = new KilnClient(urlB);

            Process node = kiln.node(urlA, dir.resolve("node"), "node", "--node-id", "n1", "--executor", "noop",
                    "--slots", "2");
            awaitStatus(clientA, "n1", "ready");
            String replicaA = clientA.node("n1").get("replica").asString();
            // B has never seen the node's connection: it knows it from the store.
            Awaitility.await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .until(() -> ids(clientB.nodes()).contains("n1"));
            JsonNode seenFromB = clientB.node("n1");
            assertThat(seenFromB.get("replica").asString()).isEqualTo(replicaA);
            assertThat(seenFromB.get("status").asString()).isEqualTo("ready");
            assertThat(seenFromB.get("capacity").asInt()).isEqualTo(2);
            assertThat(seenFromB.get("kind").asString()).isEqualTo("remote");

            // Drained through B: A, which holds the node, stops giving it work.
            assertThat(clientB.drainNode("n1").get("status").asString()).isEqualTo("drained");
            awaitStatus(clientA, "n1", "drained");
            JobResponse held = clientB.submit(JobRequest.python("print('after the drain')"));
            Thread.sleep(1500);
            assertThat(clientA.get(held.jobId(), 0).status()).isEqualTo("queued");

            // Resumed through B: the job runs.
            assertThat(clientB.resumeNode("n1").get("status").asString()).isEqualTo("ready");
            assertThat(clientA.get(held.jobId(), 30).status()).isEqualTo("succeeded");

            // The drain is kept in the store: it holds when the node comes back through the other replica.
            clientB.drainNode("n1");
            awaitStatus(clientA, "n1", "drained");
            KilnProcesses.kill9(node);
            node = kiln.node(urlB, dir.resolve("node"), "node", "--node-id", "n1", "--executor", "noop",
                    "--slots", "2");
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .until(() -> clientB.node("n1").get("replica").asString().equals(clientB.node("n1")
                            .get("replica").asString()) && !clientB.node("n1").get("replica").asString()
                            .equals(replicaA) && clientB.node("n1").path("transport").isString());
            assertThat(clientB.node("n1").get("status").asString()).isEqualTo("drained");
            JobResponse stillHeld = clientA.submit(JobRequest.python("print('moved')"));
            Thread.sleep(1500);
            assertThat(clientB.get(stillHeld.jobId(), 0).status()).isEqualTo("queued");
            clientA.resumeNode("n1"); // through the replica that no longer holds it
            assertThat(clientB.get(stillHeld.jobId(), 30).status()).isEqualTo("succeeded");

            // Removed through A, which does not hold it: B lets it go and the agent is told to stop.
            clientA.deleteNode("n1");
            assertThat(node.waitFor(30, TimeUnit.SECONDS)).as("the removed node's agent exits").isTrue();
            Awaitility.await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100))
                    .until(() -> !ids(clientA.nodes()).contains("n1") && !ids(clientB.nodes()).contains("n1"));
        }
    }

    private Process replica(KilnProcesses kiln, TestDatabase db, String name, int port) throws java.io.IOException {
        return kiln.server(dir.resolve("replica-" + name), port, "replica-" + name, "--local-node", "false",
                "--store", db.storeUrl(), "--config", dir.resolve("kiln.yaml").toString());
    }

    private static void awaitStatus(KilnClient client, String id, String status) {
        Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> client.node(id).get("status").asString().equals(status));
    }

    private static List<String> ids(JsonNode nodes) {
        List<String> ids = new ArrayList<>();
        nodes.forEach(n -> ids.add(n.get("id").asString()));
        return ids;
    }
}
