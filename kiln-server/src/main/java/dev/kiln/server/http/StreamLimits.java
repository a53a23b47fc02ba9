package dev.kiln.server.http;

import dev.kiln.core.ServiceUnavailableException;
import dev.kiln.core.TooManyRequestsException;
import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Caps the live-output streams open at once, per client address and in total: each holds a connection and a thread
 * for as long as its job runs, so a client opening them by the hundred would hold what others need.
 */
public final class StreamLimits {
    private final int maxTotal;
    private final int maxPerClient;
    private final AtomicInteger total = new AtomicInteger();
    private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    public StreamLimits(int maxTotal, int maxPerClient) {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
    }

    /**
     * Counts one more stream of {@code client} (null: unknown, counted only in the total).
     *
     * @throws TooManyRequestsException    past the client's cap (429)
     * @throws ServiceUnavailableException past the total (503)
     */
    void open(InetAddress client) {
        int theirs = client == null ? 0 : perClient.merge(client, 1, Integer::sum);
        if (theirs > maxPerClient) {
            release(client);
            throw new TooManyRequestsException("too_many_streams", null, "this client already follows "
                    + maxPerClient + " job output stream(s) (http.max_streams_per_client); close one first", 1);
        }
        if (total.incrementAndGet() > maxTotal) {
            total.decrementAndGet();
            release(client);
            throw new ServiceUnavailableException("server_busy", "the server already serves " + maxTotal
                    + " job output stream(s) (http.max_streams)", 1, null);
        }
    }

    void close(InetAddress client) {
        total.decrementAndGet();
        release(client);
    }

    private void release(InetAddress client) {
        if (client != null) perClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
    }

    int open() {
        return total.get();
    }
}
