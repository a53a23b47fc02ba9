package dev.kiln.server.http;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.Callback;

/**
 * Caps open connections, per client address and in total. A connection past a cap is answered at once (429 past
 * the client's, 503 past the total, both with {@code Retry-After}) and closed before any request is read, so idle or
 * stalled connections of one client cannot use up what the others need. Registered on the connector as a
 * {@link Connection.Listener}.
 */
public final class ConnectionLimits implements Connection.Listener {
    private static final String OVER_CLIENT = response(429, "Too Many Requests", "too many connections from this "
            + "client (http.max_connections_per_client)");
    private static final String OVER_TOTAL = response(503, "Service Unavailable", "too many connections "
            + "(http.max_connections)");

    private final int maxTotal;
    private final int maxPerClient;
    private final AtomicInteger total = new AtomicInteger();
    private final Map<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    public ConnectionLimits(int maxTotal, int maxPerClient) {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
    }

    private static String response(int status, String reason, String message) {
        String body = "{\"error\":{\"type\":\"" + (status == 429 ? "too_many_connections" : "server_busy")
                + "\",\"message\":\"" + message + "\"}}";
        return "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                + "Connection: close\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"
                + body;
    }

    @Override
    public void onOpened(Connection connection) {
        InetAddress client = client(connection.getEndPoint().getRemoteSocketAddress());
        int now = total.incrementAndGet();
        int theirs = client == null ? 0 : perClient.merge(client, 1, Integer::sum);
        if (theirs > maxPerClient) {
            refuse(connection, OVER_CLIENT);
        } else if (now > maxTotal) {
            refuse(connection, OVER_TOTAL);
        }
    }

    @Override
    public void onClosed(Connection connection) {
        total.decrementAndGet();
        InetAddress client = client(connection.getEndPoint().getRemoteSocketAddress());
        if (client != null) perClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** Open connections now, in total. */
    public int open() {
        return total.get();
    }

    private void refuse(Connection connection, String response) {
        EndPoint endPoint = connection.getEndPoint();
        endPoint.write(Callback.from(endPoint::close, failure -> endPoint.close()),
                ByteBuffer.wrap(response.getBytes(StandardCharsets.UTF_8)));
    }

    private static InetAddress client(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }
}
