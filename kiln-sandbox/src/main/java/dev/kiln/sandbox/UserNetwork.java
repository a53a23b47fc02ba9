package dev.kiln.sandbox;

import dev.kiln.core.IpBlock;
import dev.kiln.core.NetworkAllowEntry;
import dev.kiln.core.NetworkPolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * User-mode networking for sandboxes with the network: instead of the host's network (bwrap {@code --share-net}
 * of old), each sandbox gets a network namespace of its own, created by pasta (package passt), which connects it
 * to the outside through ordinary sockets of its own process on the host — no port forwarding into the sandbox
 * ({@code -t none -u none -T none -U none}) and no mapping of the gateway to the host's loopback
 * ({@code --no-map-gw}). Before the job starts, a root shell in that namespace installs the {@link EgressRules}
 * with nft; the job (uid 65534, no capabilities, in a user namespace that does not own the network namespace)
 * cannot change them.
 * <p>
 * The argv prefix ({@link Setup#prefix()}) runs after the cgroups are joined and before setpriv/bwrap:
 * {@code setpriv --pdeathsig KILL pasta ... -- setpriv --pdeathsig TERM sh -c <wait for the route, nft -f -, run
 * bwrap> sh <rules>}. pasta dies with Kiln (its parent-death signal), the shell with pasta (it is the init of
 * pasta's pid namespace: when it exits every process in there is killed, bwrap and the job included), pasta with
 * the shell (it exits when its command does), and all of them with the execution's cgroup, which they share.
 * Domains are resolved by Kiln when the sandbox starts (for a warm sandbox: when it is spawned); with an allow list
 * the answers are pinned in the sandbox's {@code /etc/hosts} and no DNS server is reachable.
 */
final class UserNetwork {
    private static final Logger log = LoggerFactory.getLogger(UserNetwork.class);
    static final Path PASTA = Path.of("/usr/bin/pasta");
    static final Path NFT = Path.of("/usr/sbin/nft");
    static final Path RESOLV_CONF = Path.of("/etc/resolv.conf");
    static final String PASTA_MISSING = "pasta (user-mode networking for network-enabled job types) is not "
            + "installed: run `apt-get install -y passt`";
    static final String NFT_MISSING = "nft (the egress filter of network-enabled job types) is not installed: "
            + "run `apt-get install -y nftables`";
    static final String NOT_ROOT = "network-enabled job types need Kiln to run as root: the sandbox's network "
            + "namespace and its egress filter are set up as root (without root Kiln refuses them rather than "
            + "give the job an unfiltered network)";
    /**
     * pasta writes start-up warnings to stderr before it reads {@code -l}: its stderr goes to the log ($1), the
     * job's stays on fd 3 until {@link #INNER} restores it.
     */
    static final String QUIET = "exec 3>&2 2>>\"$1\"; shift; exec \"$@\"";
    /**
     * Restores stderr, waits up to 5 s for pasta's route, installs the rules ($1), creates the marker file ($2),
     * then runs the rest and waits for it (as init of pasta's pid namespace: when this shell exits, everything in
     * there is killed).
     */
    static final String INNER = "exec 2>&3 3>&-; trap 'exit 143' TERM; i=0; "
            + "while ! grep -q '^[^[:space:]]*[[:space:]]00000000[[:space:]]' /proc/net/route "
            + "&& ! grep -q '^00000000000000000000000000000000 00 ' /proc/net/ipv6_route; do "
            + "i=$((i+1)); if [ \"$i\" -gt 500 ]; then echo \"" + ResultClassifier.SETUP_MARKER
            + " the sandbox network did not come up\" >&2; exit " + ResultClassifier.SETUP_EXIT_CODE + "; fi; "
            + "sleep 0.01; done; "
            + "printf '%s\\n' \"$1\" | " + NFT + " -f - || { echo \"" + ResultClassifier.SETUP_MARKER
            + " cannot install the network filter (nft)\" >&2; exit " + ResultClassifier.SETUP_EXIT_CODE + "; }; "
            + ": > \"$2\" || exit " + ResultClassifier.SETUP_EXIT_CODE + "; shift 2; \"$@\" & wait $!";
    /** Written by {@link #INNER} once the filter is in: its absence after a run means pasta never ran the sandbox. */
    static final String STARTED = "network.up";

    /** What one sandbox runs before setpriv/bwrap, and the /etc/hosts to bind (null: the host's). */
    record Setup(List<String> prefix, Path hostsFile) {
    }

    private final Path setpriv;
    private final boolean root;

    UserNetwork(Path setpriv, boolean root) {
        this.setpriv = setpriv;
        this.root = root;
    }

    /** Null when this host can give sandboxes the network, else why not (with the package to install). */
    String unavailable() {
        if (!root) return NOT_ROOT;
        if (!Files.isExecutable(PASTA)) return PASTA_MISSING;
        if (!Files.isExecutable(NFT)) return NFT_MISSING;
        return null;
    }

    /**
     * The network of one sandbox under {@code policy}, plus {@code alsoAllowed} (layer builds: their index hosts,
     * reachable even when private, without restricting anything else). Writes {@code etcDir/hosts} when the policy
     * has an allow list, and pasta's log to {@code etcDir/network.log} (the sandbox sees neither file's directory).
     *
     * @throws IOException when the host cannot give sandboxes the network ({@link #unavailable()})
     */
    Setup prepare(NetworkPolicy policy, List<NetworkAllowEntry> alsoAllowed, Path etcDir) throws IOException {
        Path logFile = etcDir.resolve("network.log");
        String why = unavailable();
        if (why != null) throw new IOException(why);
        List<EgressRules.Allowed> allowed = new ArrayList<>();
        StringBuilder hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        List<NetworkAllowEntry> entries = new ArrayList<>(alsoAllowed);
        if (policy.restricted()) entries.addAll(policy.allow());
        for (NetworkAllowEntry e : entries) {
            if (!e.domain()) {
                allowed.add(new EgressRules.Allowed(IpBlock.parse(e.host(), e.host()), e.port()));
                continue;
            }
            for (InetAddress a : resolve(e.host())) {
                String ip = a.getHostAddress();
                allowed.add(new EgressRules.Allowed(IpBlock.parse(ip, ip), e.port()));
                hosts.append(ip).append('\t').append(e.host()).append('\n');
            }
        }
        Path hostsFile = null;
        if (policy.restricted()) {
            hostsFile = etcDir.resolve("hosts");
            WorkDirLayout.writeFile(hostsFile, hosts.toString().getBytes(StandardCharsets.US_ASCII));
        }
        String rules = EgressRules.render(policy.restricted(), allowed, hostAddresses(), resolvers(RESOLV_CONF));
        List<String> prefix = new ArrayList<>(List.of("/bin/sh", "-c", QUIET, "sh", logFile.toString(),
                setpriv.toString(), "--pdeathsig", "KILL", PASTA.toString(),
                "-f", "-q", "-l", logFile.toString(), "--log-size", "65536", "--runas", "0", "--netns-only",
                "--config-net", "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--no-map-gw", "--",
                setpriv.toString(), "--pdeathsig", "TERM", "/bin/sh", "-c", INNER, "sh", rules,
                etcDir.resolve(STARTED).toString()));
        return new Setup(prefix, hostsFile);
    }

    /**
     * Null when the sandbox whose network was prepared in {@code etcDir} got its network; else why not (pasta
     * failed before running anything: the last lines of its log).
     */
    static String failure(Path etcDir) {
        if (Files.exists(etcDir.resolve(STARTED))) return null;
        List<String> lines;
        try {
            lines = Files.readAllLines(etcDir.resolve("network.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            lines = List.of();
        }
        List<String> tail = lines.subList(Math.max(0, lines.size() - 3), lines.size());
        return "pasta did not start the sandbox's network" + (tail.isEmpty() ? "" : ": " + String.join(" / ", tail));
    }

    /** A name that does not resolve gets no address (so nothing of it is reachable) and a warning. */
    private static List<InetAddress> resolve(String domain) {
        try {
            return List.of(InetAddress.getAllByName(domain));
        } catch (UnknownHostException e) {
            log.warn("network.allow: '{}' does not resolve; the sandbox cannot reach it", domain);
            return List.of();
        }
    }

    /** Every address of every interface of the host (they are reachable through pasta's sockets otherwise). */
    static Set<InetAddress> hostAddresses() throws IOException {
        Set<InetAddress> out = new LinkedHashSet<>();
        try {
            for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                out.addAll(Collections.list(nif.getInetAddresses()));
            }
        } catch (SocketException e) {
            throw new IOException("cannot list the host's addresses: " + e.getMessage(), e);
        }
        return out;
    }

    /** The {@code nameserver} lines of resolv.conf (literal addresses only). */
    static List<InetAddress> resolvers(Path resolvConf) {
        List<InetAddress> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(resolvConf, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return out;
        }
        for (String line : lines) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 2 || !f[0].equals("nameserver")) continue;
            try {
                IpBlock b = IpBlock.parse(f[1].replaceFirst("%.*$", ""), f[1]);
                out.add(b.address());
            } catch (IllegalArgumentException e) {
                log.debug("ignoring name server '{}'", f[1]);
            }
        }
        return out;
    }
}
