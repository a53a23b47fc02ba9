package dev.kiln.sandbox;

import dev.kiln.core.IpBlock;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The nftables ruleset Kiln installs in a sandbox's own network namespace before the job starts (the job has no
 * CAP_NET_ADMIN there, so it cannot change it). One output chain, first match wins:
 * <ol>
 *   <li>the sandbox's own loopback (its own, not the host's: the namespace is new), and IPv6 neighbour discovery
 *       on its tap (answered by pasta, which forwards none of it);</li>
 *   <li>what the allow list names (an address, block or resolved domain, optionally one port) — reachable even in
 *       the ranges below;</li>
 *   <li>DNS (port 53) to the host's resolvers, only without an allow list (with one, the listed domains resolve
 *       from the sandbox's /etc/hosts and nothing else is asked);</li>
 *   <li>rejected: the host's own addresses, loopback, link-local, private, shared, multicast and reserved ranges;</li>
 *   <li>with an allow list everything else is rejected, without one accepted.</li>
 * </ol>
 * Rejects, not drops: a refused connection fails at once instead of hanging until the job's timeout.
 */
final class EgressRules {
    /** Never reachable unless listed: the host's loopback, link-local (cloud metadata), private and special ranges. */
    static final List<String> BLOCKED_V4 = List.of("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
            "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
            "240.0.0.0/4");
    // v4-mapped addresses (::ffff:a.b.c.d) leave as IPv4 packets and meet the IPv4 rules
    static final List<String> BLOCKED_V6 = List.of("::/128", "::1/128", "64:ff9b:1::/48",
            "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8");
    static final String TABLE = "kiln_egress";

    /** An allowed destination: {@code port} 0 for every port. */
    record Allowed(IpBlock block, int port) {
    }

    /**
     * @param restricted   an allow list exists: deny everything it does not name
     * @param allowed      what is reachable in any case (the list's entries, domains already resolved)
     * @param hostAddresses every address of the host's interfaces when the sandbox starts
     * @param resolvers    the host's name servers (only used without an allow list)
     */
    static String render(boolean restricted, List<Allowed> allowed, Set<InetAddress> hostAddresses,
                         List<InetAddress> resolvers) {
        StringBuilder b = new StringBuilder();
        b.append("table inet ").append(TABLE).append(" {\n");
        b.append("  chain output {\n");
        b.append("    type filter hook output priority 0; policy drop;\n");
        b.append("    oif \"lo\" accept\n");
        // IPv6 neighbour discovery of pasta's gateway (link-local and multicast, so refused below otherwise); it
        // never leaves the tap: pasta answers it itself
        b.append("    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n");
        for (Allowed a : allowed) {
            String match = (a.block().ipv6() ? "ip6" : "ip") + " daddr " + a.block();
            if (a.port() == 0) {
                b.append("    ").append(match).append(" accept\n");
            } else {
                b.append("    ").append(match).append(" meta l4proto { tcp, udp } th dport ").append(a.port())
                        .append(" accept\n");
            }
        }
        if (!restricted) {
            for (InetAddress r : resolvers) {
                String match = (r.getAddress().length == 16 ? "ip6" : "ip") + " daddr " + r.getHostAddress();
                b.append("    ").append(match).append(" meta l4proto { tcp, udp } th dport 53 accept\n");
            }
        }
        List<String> v4 = new ArrayList<>(BLOCKED_V4);
        List<String> v6 = new ArrayList<>(BLOCKED_V6);
        Set<String> seen = new LinkedHashSet<>();
        for (InetAddress h : hostAddresses) {
            boolean v6host = h.getAddress().length == 16;
            List<String> ranges = v6host ? BLOCKED_V6 : BLOCKED_V4;
            // nft refuses overlapping elements in one set: a host address inside a blocked range is covered already
            if (ranges.stream().anyMatch(r -> IpBlock.parse(r, r).contains(h))) continue;
            String text = h.getHostAddress().replaceFirst("%.*$", "");
            if (seen.add(text)) (v6host ? v6 : v4).add(text + (v6host ? "/128" : "/32"));
        }
        b.append("    ip daddr { ").append(String.join(", ", v4)).append(" } reject\n");
        b.append("    ip6 daddr { ").append(String.join(", ", v6)).append(" } reject\n");
        b.append(restricted ? "    reject\n" : "    accept\n");
        b.append("  }\n}\n");
        return b.toString();
    }
}
