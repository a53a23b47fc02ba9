package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The host uids (gids of the same numbers) sandboxes may run as: {@code first-last}, inclusive, written like
 * {@code "100000000-100065535"} ({@code sandbox.uid_range} in kiln.yaml). Never 0, never 65534 ({@code nobody}), and
 * below 2^31 (what file-ownership calls take everywhere).
 */
public record SandboxUidRange(long first, long last) {
    /**
     * Far above the uids useradd hands out (1000...) and the first thousand users' subordinate ranges
     * (/etc/subuid starts at 100000, 65536 per user).
     */
    public static final SandboxUidRange DEFAULT = new SandboxUidRange(100_000_000L, 100_065_535L);
    private static final Pattern FORM = Pattern.compile("\\s*(\\d{1,10})\\s*-\\s*(\\d{1,10})\\s*");
    private static final long MAX = Integer.MAX_VALUE - 1L;
    private static final long NOBODY = 65534;

    public SandboxUidRange {
        if (first < 1) throw new IllegalArgumentException("must not include uid 0 (root), got " + first + "-" + last);
        if (last < first) throw new IllegalArgumentException("must be first-last with first <= last, got " + first + "-" + last);
        if (last > MAX) throw new IllegalArgumentException("must end at or below " + MAX + ", got " + last);
        if (first <= NOBODY && NOBODY <= last) {
            throw new IllegalArgumentException("must not include 65534 (nobody), got " + first + "-" + last);
        }
    }

    /** {@code "first-last"}; IllegalArgumentException naming what is wrong. */
    public static SandboxUidRange parse(String text) {
        Matcher m = FORM.matcher(text == null ? "" : text);
        if (!m.matches()) throw new IllegalArgumentException("must look like '100000000-100065535', got '" + text + "'");
        return new SandboxUidRange(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
    }

    public long size() {
        return last - first + 1;
    }

    /**
     * Checks the range can serve {@code sandboxes} live sandboxes at once and shares no id with the host: no user of
     * {@code <etc>/passwd}, no group of {@code <etc>/group}, no subordinate range of {@code <etc>/subuid} or
     * {@code <etc>/subgid} (a user's containers run under those). Returns null when fine, else why not.
     */
    public String problemOnHost(Path etc, long sandboxes) {
        if (size() < sandboxes) {
            return "holds " + size() + " uids but up to " + sandboxes + " sandboxes may live at once (slots + warm "
                    + "pools + layer builds)";
        }
        for (String db : List.of("passwd", "group")) {
            for (String line : lines(etc.resolve(db))) {
                String[] f = line.split(":");
                if (f.length < 3) continue;
                long id = number(f[2]);
                if (id >= first && id <= last) {
                    return "overlaps " + (db.equals("passwd") ? "user" : "group") + " '" + f[0] + "' (" + id + ") of "
                            + etc.resolve(db);
                }
            }
        }
        for (String db : List.of("subuid", "subgid")) {
            for (String line : lines(etc.resolve(db))) {
                String[] f = line.split(":");
                if (f.length < 3) continue;
                long start = number(f[1]);
                long count = number(f[2]);
                if (start < 0 || count <= 0) continue;
                if (start <= last && start + count - 1 >= first) {
                    return "overlaps the subordinate ids " + start + "-" + (start + count - 1) + " of '" + f[0]
                            + "' in " + etc.resolve(db);
                }
            }
        }
        return null;
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.ISO_8859_1); // any bytes: only the numbers matter
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + file + ": " + e, e);
        }
    }

    private static long number(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @Override
    public String toString() {
        return first + "-" + last;
    }
}
