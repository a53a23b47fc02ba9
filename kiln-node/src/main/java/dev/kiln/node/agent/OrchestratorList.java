package dev.kiln.node.agent;

import java.net.URI;
import java.util.List;

/**
 * The orchestrators a node may connect to ({@code kiln node --orchestrator URL1,URL2,...}) and which one to try
 * next. A connection attempt that fails moves on to the next URL (round robin, with the caller's backoff between
 * attempts); a connection that was up and then lost is tried again on the same URL first, so a blip does not move
 * the node, while an orchestrator that is gone costs one failed attempt before the node moves. Not thread-safe (the
 * connection thread owns it).
 */
final class OrchestratorList {
    private final List<URI> urls;
    private int current;

    OrchestratorList(List<URI> urls) {
        if (urls.isEmpty()) throw new IllegalArgumentException("no orchestrator to connect to");
        this.urls = List.copyOf(urls);
    }

    /** The orchestrator to try now. */
    URI current() {
        return urls.get(current);
    }

    /** Connecting to {@link #current()} failed: the next attempt goes to the next one. */
    void connectFailed() {
        current = (current + 1) % urls.size();
    }

    int size() {
        return urls.size();
    }
}
