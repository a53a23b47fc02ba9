package dev.kiln.core;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NetworkPolicyTest {
    @Test
    void parsesDomainsAddressesBlocksAndPorts() {
        NetworkPolicy p = NetworkPolicy.parse(List.of("PyPI.org.", "example.com:443", "10.1.2.7/24", "203.0.113.9",
                "2001:DB8::1", "[2001:db8::1]:8443", "2001:db8::/32", "10.1.0.0/16:8080"));
        assertThat(p.restricted()).isTrue();
        assertThat(p.allow()).containsExactly(
                new NetworkAllowEntry("pypi.org", 0, true),
                new NetworkAllowEntry("example.com", 443, true),
                new NetworkAllowEntry("10.1.2.0/24", 0, false), // normalised to its network
                new NetworkAllowEntry("203.0.113.9", 0, false),
                new NetworkAllowEntry("2001:db8:0:0:0:0:0:1", 0, false),
                new NetworkAllowEntry("2001:db8:0:0:0:0:0:1", 8443, false),
                new NetworkAllowEntry("2001:db8:0:0:0:0:0:0/32", 0, false),
                new NetworkAllowEntry("10.1.0.0/16", 8080, false));
        assertThat(p.allowTexts()).contains("example.com:443", "[2001:db8:0:0:0:0:0:1]:8443");
        assertThat(NetworkPolicy.parse(p.allowTexts())).isEqualTo(p);
    }

    @Test
    void noListIsOpenAndAnEmptyListAllowsNothing() {
        assertThat(NetworkPolicy.parse(null)).isEqualTo(NetworkPolicy.OPEN);
        assertThat(NetworkPolicy.OPEN.restricted()).isFalse();
        assertThat(NetworkPolicy.parse(List.of()).restricted()).isTrue();
        assertThat(NetworkPolicy.parse(List.of()).allow()).isEmpty();
    }

    @Test
    void badEntriesSayWhichAndWhatIsAllowed() {
        for (String bad : new String[] {"", "*.example.com", "example.com:0", "example.com:70000", "example.com:http",
                "10.1.2.0/33", "999.1.1.1", "-bad-.com", "a..b", "[example.com]:443", "1.2.3.4/x", "[::1"}) {
            assertThatThrownBy(() -> NetworkPolicy.parse(List.of("ok.example", bad)))
                    .as(bad)
                    .isInstanceOfSatisfying(NetworkPolicy.InvalidEntry.class, e -> assertThat(e.index()).isEqualTo(1))
                    .hasMessageContaining(NetworkAllowEntry.FORMS);
        }
        assertThatThrownBy(() -> NetworkAllowEntry.parse("*.example.com")).hasMessageContaining("wildcards");
    }

    @Test
    void blocksContainTheirAddresses() {
        IpBlock b = IpBlock.parse("172.16.0.0/12", "x");
        assertThat(b.contains(IpBlock.parse("172.31.5.6", "x").address())).isTrue();
        assertThat(b.contains(IpBlock.parse("172.32.0.1", "x").address())).isFalse();
        assertThat(b.contains(IpBlock.parse("::1", "x").address())).isFalse();
    }

    @Test
    void jobTypesKeepTheirOldConstructorsAndGainAWithMethod() {
        JobType t = JobType.defaults("a");
        assertThat(t.network()).isEqualTo(NetworkPolicy.OPEN);
        NetworkPolicy p = NetworkPolicy.parse(List.of("pypi.org"));
        assertThat(t.withNetwork(p).network()).isEqualTo(p);
        assertThat(t.withNetwork(p)).isNotEqualTo(t); // a redefinition: warm pools refill
    }
}
