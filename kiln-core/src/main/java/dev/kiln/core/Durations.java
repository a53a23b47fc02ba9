package dev.kiln.core;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as people write them: {@code 30d}, {@code 12h}, {@code 45m}, {@code 90s}, or a number of seconds. */
public final class Durations {
    private static final Pattern FORM = Pattern.compile("(\\d{1,9})([smhd]?)");

    private Durations() {
    }

    /** @throws IllegalArgumentException naming the accepted forms */
    public static Duration parse(String text) {
        Matcher m = text == null ? null : FORM.matcher(text.strip());
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (examples: 30d, 12h, 45m, 90s, 3600)");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "d" -> Duration.ofDays(n);
            case "h" -> Duration.ofHours(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofSeconds(n);
        };
    }

    /** The shortest of those forms that says it exactly. */
    public static String format(Duration d) {
        long s = d.toSeconds();
        if (s % 86_400 == 0 && s > 0) return s / 86_400 + "d";
        if (s % 3_600 == 0 && s > 0) return s / 3_600 + "h";
        if (s % 60 == 0 && s > 0) return s / 60 + "m";
        return s + "s";
    }
}
