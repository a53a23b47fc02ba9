package dev.kiln.server.http;

import dev.kiln.core.KilnException;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Reads a request body with a hard cap, so an oversized or endless body is refused with 413, not buffered. */
final class RequestBodies {
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

    static byte[] read(Context ctx, long maxBytes) {
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
