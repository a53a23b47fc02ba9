package dev.kiln.core;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints sizes like {@code 512m}, {@code 1g}, {@code 64k}, {@code 1048576} (binary units). */
public final class ByteSize {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)?");

    private ByteSize() {
    }

    /** @throws IllegalArgumentException with a message suitable for the user when the text is not a size */
    public static long parse(String text) {
        if (text == null) throw new IllegalArgumentException("size is missing");
        Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size (examples: 512m, 1g, 65536)");
        }
        double number = Double.parseDouble(m.group(1));
        long unit = switch (m.group(2)) {
            case "k" -> 1L << 10;
            case "m" -> 1L << 20;
            case "g" -> 1L << 30;
            case "t" -> 1L << 40;
            default -> 1L;
        };
        double bytes = number * unit;
        if (bytes > Long.MAX_VALUE / 2) throw new IllegalArgumentException("'" + text + "' is too large");
        return (long) bytes;
    }

    public static String format(long bytes) {
        String[] units = {"", "k", "m", "g", "t"};
        int i = 0;
        long v = bytes;
        while (i < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            i++;
        }
        return v + units[i];
    }
}
