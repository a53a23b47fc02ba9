package dev.kiln.server.auth;

/**
 * Who may call the API without a key. {@code local} (the default): anonymous requests from this machine's loopback
 * only, as the one user of a laptop; everyone else needs a key (like Redis's protected mode). {@code required}:
 * every request needs a key. Behind a reverse proxy on the same machine every request looks local: use
 * {@code required} there.
 */
public enum AuthMode {
    LOCAL, REQUIRED;

    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the allowed values */
    public static AuthMode parse(String text) {
        for (AuthMode m : values()) if (m.wireName().equals(text)) return m;
        throw new IllegalArgumentException("must be local or required, got '" + text + "'");
    }
}
