package dev.kiln.server.config;

/**
 * How the HTTP server holds up against clients that hold connections without using them: slow or stalled bodies,
 * idle keep-alive connections, and more connections or live-output streams than a client should need.
 *
 * @param idleTimeoutMillis       a connection with no traffic this long is closed (keep-alive between requests);
 *                                a request being answered (a long {@code /execute}) is not cut by it
 * @param bodyTimeoutMillis       a request body with no bytes arriving for this long is cut: 408
 * @param maxConnections          open connections in total; past it new ones are answered 503 and closed
 * @param maxConnectionsPerClient open connections from one client address; past it 429 and closed
 * @param maxStreams              live-output streams ({@code GET /jobs/{id}/output}) in total; past it 503
 * @param maxStreamsPerClient     live-output streams of one client address; past it 429
 */
public record HttpSettings(long idleTimeoutMillis, long bodyTimeoutMillis, int maxConnections,
                           int maxConnectionsPerClient, int maxStreams, int maxStreamsPerClient) {
    public static final HttpSettings DEFAULTS = new HttpSettings(60_000, 30_000, 10_000, 256, 1_000, 32);

    public HttpSettings {
        if (idleTimeoutMillis < 1 || bodyTimeoutMillis < 1) throw new IllegalArgumentException("timeouts must be > 0");
        if (maxConnections < 1 || maxConnectionsPerClient < 1 || maxStreams < 1 || maxStreamsPerClient < 1) {
            throw new IllegalArgumentException("limits must be >= 1");
        }
    }

    public HttpSettings withBodyTimeoutMillis(long millis) {
        return new HttpSettings(idleTimeoutMillis, millis, maxConnections, maxConnectionsPerClient, maxStreams,
                maxStreamsPerClient);
    }

    public HttpSettings withIdleTimeoutMillis(long millis) {
        return new HttpSettings(millis, bodyTimeoutMillis, maxConnections, maxConnectionsPerClient, maxStreams,
                maxStreamsPerClient);
    }

    public HttpSettings withConnectionLimits(int total, int perClient) {
        return new HttpSettings(idleTimeoutMillis, bodyTimeoutMillis, total, perClient, maxStreams,
                maxStreamsPerClient);
    }

    public HttpSettings withStreamLimits(int total, int perClient) {
        return new HttpSettings(idleTimeoutMillis, bodyTimeoutMillis, maxConnections, maxConnectionsPerClient, total,
                perClient);
    }
}
