package dev.kiln.core;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The store's signals as this replica sends them, remembering the jobs it queued itself, so that when those signals
 * come back (every replica hears its own) {@link ReplicaSync} need not read the job from the store again.
 */
final class OwnSignals implements StoreSignals {
    private final StoreSignals delegate;
    private final Set<String> queuedHere = ConcurrentHashMap.newKeySet();

    OwnSignals(StoreSignals delegate) {
        this.delegate = delegate;
    }

    // More sent and never heard back than this: the signals are not coming back (a broken publish); start over.
    private static final int MAX_UNECHOED = 100_000;

    @Override
    public void publish(Topic topic, String id) {
        if (topic == Topic.QUEUED) {
            if (queuedHere.size() >= MAX_UNECHOED) queuedHere.clear();
            queuedHere.add(id);
        }
        delegate.publish(topic, id);
    }

    /** Whether this is the echo of this replica's own QUEUED signal (each echo is recognised once). */
    boolean isEcho(Topic topic, String id) {
        return topic == Topic.QUEUED && queuedHere.remove(id);
    }

    /** Signals may have been lost: forget what was sent, so nothing waits here for an echo forever. */
    void forgetSent() {
        queuedHere.clear();
    }

    @Override
    public void subscribe(Listener listener) {
        delegate.subscribe(listener);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
