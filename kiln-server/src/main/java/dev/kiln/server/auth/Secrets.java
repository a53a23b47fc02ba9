package dev.kiln.server.auth;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/** Credentials Kiln hands out (API keys, node tokens): a short public id and a long random secret. */
final class Secrets {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Secrets() {
    }

    /** {@code prefix} and 6 random bytes in hex. */
    static String id(String prefix) {
        byte[] id = new byte[6];
        RANDOM.nextBytes(id);
        return prefix + HexFormat.of().formatHex(id);
    }

    /** {@code prefix} and 32 random bytes, base64url. */
    static String secret(String prefix) {
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    }
}
