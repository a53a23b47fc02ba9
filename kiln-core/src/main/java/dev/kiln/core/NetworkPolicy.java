package dev.kiln.core;

import java.util.ArrayList;
import java.util.List;

/**
 * A job type's {@code network}: {@code allow} null means no list (with {@code network_enabled}, every public
 * address is reachable; the host, link-local and private ranges never are); a list (even empty) restricts egress to
 * what it names, and what it names is reachable even in those ranges.
 */
public record NetworkPolicy(List<NetworkAllowEntry> allow) {
    /** No allow list. */
    public static final NetworkPolicy OPEN = new NetworkPolicy(null);

    public NetworkPolicy {
        allow = allow == null ? null : List.copyOf(allow);
    }

    public boolean restricted() {
        return allow != null;
    }

    /**
     * Parses the entries of {@code network.allow}; the exception names the entry ({@code network.allow[2]}) and
     * what is allowed.
     */
    public static NetworkPolicy parse(List<String> entries) {
        if (entries == null) return OPEN;
        List<NetworkAllowEntry> out = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            try {
                out.add(NetworkAllowEntry.parse(entries.get(i)));
            } catch (IllegalArgumentException e) {
                throw new InvalidEntry(i, e.getMessage());
            }
        }
        return new NetworkPolicy(out);
    }

    /** The entries as written back to JSON/YAML; null when there is no list. */
    public List<String> allowTexts() {
        return allow == null ? null : allow.stream().map(NetworkAllowEntry::toString).toList();
    }

    /** A bad entry: {@link #index} is its position in the list. */
    public static final class InvalidEntry extends IllegalArgumentException {
        private final int index;

        InvalidEntry(int index, String message) {
            super(message);
            this.index = index;
        }

        public int index() {
            return index;
        }
    }
}
