package dev.kiln.server.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The OpenAPI document, served at {@code /openapi.json}; docs/openapi.json is a copy kept equal by a test. */
public final class OpenApiDocument {
    private OpenApiDocument() {
    }

    public static byte[] bytes() {
        try (InputStream in = OpenApiDocument.class.getResourceAsStream("/openapi.json")) {
            if (in == null) throw new IllegalStateException("openapi.json missing from the classpath");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
