package dev.kiln.node.agent;

import java.net.URI;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The orchestrators a node may connect to ({@code kiln node --orchestrator URL1,URL2,...}) and which one to try
 * next. A connection attempt that fails moves on to the next URL (round robin, with the caller's backoff between
 * attempts); a connection that was up and then lost is tried again on the same URL first, so a blip does not move
 * the node, while an orchestrator that is gone costs one failed attempt before the node moves. A refusal that no
 * retry can change stops the node only when it is about the node, or when every orchestrator of the list gave one
 * (another may take a token or protocol version that this one does not). Not thread-safe (the connection thread
 * owns it).
 */
final class OrchestratorList {
    /** The operator removed this node, or another connection of it took over: no orchestrator will take it. */
    private static final Set<String> ABOUT_THE_NODE = Set.of("removed", "replaced");
    /** This orchestrator will not take the node, whatever it retries; another of the list may. */
    private static final Set<String> ABOUT_THE_ORCHESTRATOR = Set.of("unauthorized", "protocol_version");

    private final List<URI> urls;
    private final Set<Integer> refusedForGood = new HashSet<>(); // since the last welcome
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

    /** Welcomed by {@link #current()}: earlier refusals may have been lifted. */
    void welcomed() {
        refusedForGood.clear();
    }

    /**
     * {@link #current()} refused the node with {@code code}; true when the node should stop: the refusal is about
     * the node, or every orchestrator of the list refused it for good since the last welcome.
     */
    boolean stopsTheNode(String code) {
        if (ABOUT_THE_NODE.contains(code)) return true;
        if (!ABOUT_THE_ORCHESTRATOR.contains(code)) return false;
        refusedForGood.add(current);
        return refusedForGood.size() == urls.size();
    }

    int size() {
        return urls.size();
    }
}
