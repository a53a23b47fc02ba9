package dev.kiln.server.http;

import dev.kiln.core.KilnException;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Reads a request body with a hard cap, so an oversized or endless body is refused with 413, not buffered, and with
 * a time limit, so a body that stops arriving is cut with 408 instead of holding its connection.
 */
public final class RequestBodies {
    /** How long a body may go without a byte arriving ({@code http.body_timeout}), in ms; set by the server. */
    public static final io.javalin.config.Key<Long> BODY_TIMEOUT = new io.javalin.config.Key<>("kiln.body-timeout");

    private RequestBodies() {
    }

    /** The most an endpoint that takes no body reads of one sent anyway. */
    static final long IGNORED_BODY_LIMIT = 64 * 1024;

    /**
     * For endpoints that take no body: reads whatever a client sent anyway (413 past {@link #IGNORED_BODY_LIMIT}).
     * Jetty closes a keep-alive connection whose request content was not read to its end, sometimes after the
     * response was already on its way; a client that reuses that connection then gets no answer to its next request.
     */
    static void ignore(Context ctx) {
        read(ctx, IGNORED_BODY_LIMIT);
    }

    /**
     * How much past its limit a refused body is still read (and thrown away) before the 413 goes out: a client
     * still sending when the server answers and closes gets a reset instead of the answer, so a body somewhat too
     * large is drained to give the client its 413; a far larger one is refused at once.
     */
    static final long DRAIN_ALLOWANCE = 1L << 20;

    public static byte[] read(Context ctx, long maxBytes) {
        // While the body is read, the connection's idle timeout is the body timeout: a read that waits longer
        // fails, and the client gets 408. Then back to the connection's own (keep-alive) idle timeout.
        org.eclipse.jetty.io.EndPoint endPoint = endPoint(ctx);
        long idle = endPoint == null ? 0 : endPoint.getIdleTimeout();
        long bodyTimeout = ctx.appData(BODY_TIMEOUT);
        if (endPoint != null) endPoint.setIdleTimeout(bodyTimeout);
        try {
            return readCapped(ctx, maxBytes);
        } catch (UncheckedIOException e) {
            if (timedOut(e)) {
                throw new KilnException(408, "request_timeout", "body", "body: no data for " + bodyTimeout
                        + " ms (http.body_timeout); send the whole body without pausing");
            }
            throw e;
        } finally {
            if (endPoint != null) endPoint.setIdleTimeout(idle);
        }
    }

    private static org.eclipse.jetty.io.EndPoint endPoint(Context ctx) {
        try {
            return org.eclipse.jetty.ee10.servlet.ServletContextRequest.getServletContextRequest(ctx.req())
                    .getConnectionMetaData().getConnection().getEndPoint();
        } catch (RuntimeException notJetty) {
            return null;
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.util.concurrent.TimeoutException) return true;
        }
        return false;
    }

    private static byte[] readCapped(Context ctx, long maxBytes) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxBytes) {
            if (declared <= maxBytes + DRAIN_ALLOWANCE) drain(ctx, declared);
            throw KilnException.tooLarge("body", maxBytes, declared);
        }
        try (InputStream in = ctx.bodyInputStream()) {
            byte[] body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
            if (body.length > maxBytes) {
                discard(in, DRAIN_ALLOWANCE);
                throw new KilnException(413, "payload_too_large", "body",
                        "body: exceeds the limit of " + maxBytes + " bytes");
            }
            return body;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void drain(Context ctx, long bytes) {
        try (InputStream in = ctx.bodyInputStream()) {
            discard(in, bytes);
        } catch (IOException e) {
            // the client went away: nothing to answer
        }
    }

    private static void discard(InputStream in, long atMost) throws IOException {
        byte[] sink = new byte[16 << 10];
        long left = atMost;
        int n;
        while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0) left -= n;
    }
}
