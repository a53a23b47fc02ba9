package dev.kiln.node.agent;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How long a remote node keeps a job-type layer it has not used ({@code kiln node --layer-ttl}): 30m, 12h, 7d. */
public final class LayerTtl {
    public static final Duration DEFAULT = Duration.ofDays(7);
    // At most 9 digits: any such count of days is still far from overflowing an Instant.
    private static final Pattern FORM = Pattern.compile("([1-9][0-9]{0,8})([mhd])");

    private LayerTtl() {
    }

    /** @throws IllegalArgumentException unless a positive whole number of minutes, hours or days (30m, 12h, 7d) */
    public static Duration parse(String text) {
        Matcher m = FORM.matcher(text == null ? "" : text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("must be a whole number of minutes, hours or days such as 30m, 12h "
                    + "or 7d, got '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    /** The largest unit that divides it: 7d, 36h, 90m. */
    public static String format(Duration ttl) {
        if (ttl.toMinutes() % (24 * 60) == 0) return ttl.toDays() + "d";
        if (ttl.toMinutes() % 60 == 0) return ttl.toHours() + "h";
        return ttl.toMinutes() + "m";
    }

    /** @throws IllegalArgumentException unless at least a minute, in whole minutes (what {@link #parse} makes) */
    static Duration check(Duration ttl) {
        boolean wholeMinutes = ttl != null && ttl.equals(Duration.ofMinutes(ttl.toMinutes()));
        if (!wholeMinutes || ttl.toMinutes() < 1) {
            throw new IllegalArgumentException("the layer TTL must be a whole number of minutes, at least 1, got "
                    + ttl);
        }
        return ttl;
    }
}
