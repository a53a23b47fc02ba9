package dev.kiln.sandbox;

import dev.kiln.core.IpBlock;
import dev.kiln.core.NetworkPolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class EgressRulesTest {
    @TempDir
    Path temp;

    private static InetAddress ip(String s) {
        return IpBlock.parse(s, s).address();
    }

    @Test
    void allowedComeFirstThenResolversOnlyWithoutAListThenTheBlockedRangesAndHostAddresses() {
        Set<InetAddress> host = new LinkedHashSet<>(List.of(ip("192.0.2.2"), ip("10.9.9.9"), ip("fd00::2"),
                ip("2001:db8::5"), ip("192.0.2.2")));
        List<EgressRules.Allowed> allowed = List.of(new EgressRules.Allowed(IpBlock.parse("10.1.2.0/24", "x"), 0),
                new EgressRules.Allowed(IpBlock.parse("203.0.113.7", "x"), 443));
        String open = EgressRules.render(false, allowed, host, List.of(ip("10.255.255.53")));
        String listed = EgressRules.render(true, allowed, host, List.of(ip("10.255.255.53")));

        assertThat(open).contains("policy drop;", "oif \"lo\" accept", "ip daddr 10.1.2.0/24 accept",
                "ip daddr 203.0.113.7 meta l4proto { tcp, udp } th dport 443 accept",
                "ip daddr 10.255.255.53 meta l4proto { tcp, udp } th dport 53 accept");
        assertThat(open.indexOf("10.1.2.0/24 accept")).isLessThan(open.indexOf("10.0.0.0/8"));
        // host addresses inside a blocked range are covered by it (nft refuses overlapping set elements)
        assertThat(open).contains("169.254.0.0/16", "192.0.2.2/32", "2001:db8:0:0:0:0:0:5/128", "fc00::/7")
                .doesNotContain("10.9.9.9", "fd00:0:0:0:0:0:0:2");
        assertThat(open.strip()).endsWith("accept\n  }\n}".strip());
        assertThat(listed).doesNotContain("dport 53").contains("    reject\n  }");
    }

    /** The rendered ruleset is valid nft (checked with nft -c in a throw-away network namespace). */
    @Test
    void nftAcceptsTheRuleset() throws IOException {
        assumeTrue(Files.isExecutable(UserNetwork.NFT), "nft is not installed (apt-get install -y nftables)");
        assumeTrue(Privileges.isRoot(), "nft -c needs root");
        String rules = EgressRules.render(true, List.of(new EgressRules.Allowed(IpBlock.parse("2001:db8::/32", "x"), 8443)),
                UserNetwork.hostAddresses(), UserNetwork.resolvers(UserNetwork.RESOLV_CONF));
        Path file = temp.resolve("rules.nft");
        Files.writeString(file, rules);
        HostCommand.Outcome o = HostCommand.run(List.of("unshare", "--net", UserNetwork.NFT.toString(), "-c", "-f",
                file.toString()), Duration.ofSeconds(10));
        assertThat(o.ok()).as(o.output() + "\n" + rules).isTrue();
    }

    @Test
    void anAllowListPinsItsDomainsInTheSandboxsOwnHosts() throws IOException {
        assumeTrue(Privileges.isRoot() && Files.isExecutable(UserNetwork.PASTA) && Files.isExecutable(UserNetwork.NFT),
                "needs root, pasta and nft");
        UserNetwork.Setup s = new UserNetwork(BwrapConfig.defaults().setpriv(), true)
                .prepare(NetworkPolicy.parse(List.of("localhost:8080")), List.of(), temp);
        assertThat(s.hostsFile()).isEqualTo(temp.resolve("hosts"));
        String hosts = Files.readString(s.hostsFile());
        for (InetAddress a : InetAddress.getAllByName("localhost")) {
            assertThat(hosts).contains(a.getHostAddress() + "\tlocalhost\n");
        }
        String rules = s.prefix().get(s.prefix().indexOf(UserNetwork.INNER) + 2);
        assertThat(rules).contains("th dport 8080 accept").doesNotContain("dport 53");
        assertThat(new UserNetwork(BwrapConfig.defaults().setpriv(), true).prepare(NetworkPolicy.OPEN, List.of(),
                temp.resolve("x").toFile().mkdir() ? temp.resolve("x") : temp).hostsFile()).isNull();
        assertThat(new UserNetwork(BwrapConfig.defaults().setpriv(), false).unavailable()).isEqualTo(UserNetwork.NOT_ROOT);
    }

    @Test
    void aSandboxWhoseFilterNeverWentInReportsPastasLastLogLines() throws IOException {
        Files.writeString(temp.resolve("network.log"), "pasta unknown version\n0.1: ERROR: No routable interface\n");
        assertThat(UserNetwork.failure(temp)).isEqualTo("pasta did not start the sandbox's network: pasta unknown "
                + "version / 0.1: ERROR: No routable interface");
        Files.writeString(temp.resolve(UserNetwork.STARTED), "");
        assertThat(UserNetwork.failure(temp)).isNull();
    }

    @Test
    void resolversAreTheLiteralNameservers() throws IOException {
        Path conf = temp.resolve("resolv.conf");
        Files.writeString(conf, "# c\nsearch example\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\nnameserver bogus\n");
        assertThat(UserNetwork.resolvers(conf)).containsExactly(ip("10.255.255.53"), ip("fe80::1"));
    }
}
