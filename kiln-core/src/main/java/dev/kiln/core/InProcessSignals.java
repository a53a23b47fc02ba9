package dev.kiln.core;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link StoreSignals} for a store only one process uses: listeners called in publish order on one thread. */
final class InProcessSignals implements StoreSignals {
    private static final Logger log = LoggerFactory.getLogger(InProcessSignals.class);
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService thread = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kiln-signals").daemon().factory());

    @Override
    public void publish(Topic topic, String id) {
        if (listeners.isEmpty()) return;
        try {
            thread.execute(() -> {
                for (Listener l : listeners) {
                    try {
                        l.signal(topic, id);
                    } catch (RuntimeException e) {
                        log.error("signal listener failed on {} {}", topic, id, e);
                    }
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // closing: nobody listens any more
        }
    }

    @Override
    public void subscribe(Listener listener) {
        listeners.add(listener);
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
