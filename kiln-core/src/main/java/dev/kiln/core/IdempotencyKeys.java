package dev.kiln.core;

/**
 * Idempotency keys are per namespace: two tenants may both send {@code order-17}. The store keeps one unique key
 * column, so a key is stored scoped: as sent in namespace {@code default} (as before namespaces), else
 * {@code <namespace>} + U+001F + key. Clients may not use control characters in keys, and namespaces are plain
 * names, so no two (namespace, key) pairs share a stored form.
 */
public final class IdempotencyKeys {
    static final char SEPARATOR = '\u001f';

    private IdempotencyKeys() {
    }

    public static String scoped(String namespace, String key) {
        if (key == null) return null;
        if (namespace == null || namespace.equals(JobRecord.DEFAULT_NAMESPACE)) return key;
        return namespace + SEPARATOR + key;
    }

    public static String unscoped(String stored) {
        if (stored == null) return null;
        int i = stored.indexOf(SEPARATOR);
        return i < 0 ? stored : stored.substring(i + 1);
    }

    /** Whether the key has a character a client may not send (control characters: they would confuse scoping). */
    public static boolean hasControlCharacters(String key) {
        return key.chars().anyMatch(Character::isISOControl);
    }
}
