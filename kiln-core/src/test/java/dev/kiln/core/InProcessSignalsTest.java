package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.StoreSignals.Topic;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class InProcessSignalsTest {
    private static final Duration WITHIN = Duration.ofSeconds(5);

    @Test
    void listenersGetEverySignalInPublishOrderOnOneThread() {
        List<String> seen = new CopyOnWriteArrayList<>();
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        try (StoreSignals signals = StoreSignals.inProcess()) {
            signals.subscribe((topic, id) -> {
                threads.add(Thread.currentThread());
                seen.add(topic + " " + id);
            });
            List<String> sent = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                Topic topic = Topic.values()[i % Topic.values().length];
                String id = topic == Topic.RESYNC ? null : "id-" + i;
                signals.publish(topic, id);
                sent.add(topic + " " + id);
            }
            await().atMost(WITHIN).untilAsserted(() -> assertThat(seen).containsExactlyElementsOf(sent));
            assertThat(threads).hasSize(1).allMatch(t -> t != Thread.currentThread());
        }
    }

    @Test
    void aFailingListenerStopsNeitherTheOthersNorLaterSignals() {
        List<String> seen = new CopyOnWriteArrayList<>();
        try (StoreSignals signals = StoreSignals.inProcess()) {
            signals.subscribe((topic, id) -> seen.add("first " + id));
            signals.subscribe((topic, id) -> {
                throw new IllegalStateException("listener bug");
            });
            signals.subscribe((topic, id) -> seen.add("third " + id));
            signals.publish(Topic.QUEUED, "a");
            signals.publish(Topic.FINISHED, "b");
            await().atMost(WITHIN).untilAsserted(() ->
                    assertThat(seen).containsExactly("first a", "third a", "first b", "third b"));
        }
    }

    @Test
    void aPublishAfterCloseIsDroppedQuietly() {
        List<String> seen = new CopyOnWriteArrayList<>();
        StoreSignals signals = StoreSignals.inProcess();
        signals.subscribe((topic, id) -> seen.add(id));
        signals.close();
        signals.publish(Topic.QUEUED, "late");
        assertThat(seen).isEmpty();
    }
}
