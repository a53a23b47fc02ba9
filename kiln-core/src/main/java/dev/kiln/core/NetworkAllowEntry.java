package dev.kiln.core;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One entry of a job type's {@code network.allow}: a domain, an IP address or a CIDR block, optionally with a port
 * ({@code pypi.org}, {@code 10.1.2.0/24}, {@code example.com:443}, {@code [2001:db8::1]:443}). A domain is resolved
 * by Kiln when the sandbox starts; a port applies to TCP and UDP.
 *
 * @param host   a lower-case domain, or an IP address / CIDR block in its canonical text
 * @param port   0: every port
 * @param domain whether {@code host} is a domain (else an address or block)
 */
public record NetworkAllowEntry(String host, int port, boolean domain) {
    /** What an entry may look like, for error messages. */
    public static final String FORMS = "a domain (pypi.org), an IP address or CIDR block (10.1.2.0/24, "
            + "2001:db8::/32), each optionally with a port (example.com:443, [2001:db8::1]:443)";
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    /** Parses one entry; the message of the exception says what is wrong and what is allowed. */
    public static NetworkAllowEntry parse(String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("must not be empty; use " + FORMS);
        String s = text.strip();
        String host = s;
        int port = 0;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) throw bad(text, "']' missing");
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) throw bad(text, "only ':port' may follow ']'");
                port = port(text, rest.substring(1));
            }
            if (!host.contains(":")) throw bad(text, "brackets are for IPv6 addresses");
        } else if (s.indexOf(':') >= 0 && s.indexOf(':') == s.lastIndexOf(':')) {
            host = s.substring(0, s.indexOf(':'));
            port = port(text, s.substring(s.indexOf(':') + 1));
        }
        if (host.contains(":") || host.contains("/") || host.matches("[0-9.]+")) {
            return new NetworkAllowEntry(IpBlock.parse(host, text).toString(), port, false);
        }
        String domain = host.toLowerCase(Locale.ROOT);
        if (domain.endsWith(".")) domain = domain.substring(0, domain.length() - 1);
        if (domain.startsWith("*")) throw bad(text, "wildcards are not supported (Kiln resolves each name itself)");
        if (domain.isEmpty() || domain.length() > 253) throw bad(text, "not a domain");
        for (String label : domain.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) throw bad(text, "'" + label + "' is not a valid domain label");
        }
        return new NetworkAllowEntry(domain, port, true);
    }

    private static int port(String text, String p) {
        try {
            int n = Integer.parseInt(p);
            if (n >= 1 && n <= 65535) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw bad(text, "the port must be a number from 1 to 65535");
    }

    static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("'" + text + "' is not allowed: " + why + "; use " + FORMS);
    }

    @Override
    public String toString() {
        if (port == 0) return host;
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
