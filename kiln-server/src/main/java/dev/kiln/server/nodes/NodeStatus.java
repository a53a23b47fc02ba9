package dev.kiln.server.nodes;

import java.time.Instant;
import java.util.List;

/**
 * A remote node's connection as {@code GET /nodes} shows it. {@code state}: {@code connected}, {@code disconnected}
 * (its connection dropped; its lease still runs) or {@code lost} (lease expired: its work was re-queued).
 */
public record NodeStatus(String state, String transport, Instant connectedSince, long lastHeardMillisAgo,
                         int connections, List<String> jobTypes, java.util.Map<String, Integer> typeSlots) {
}
