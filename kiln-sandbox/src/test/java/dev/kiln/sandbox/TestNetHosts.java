package dev.kiln.sandbox;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Test hosts of a test's own, on this machine only: one network namespace ({@code kiln-test-xxxxxx}) joined to the
 * host by a veth pair, holding the test hosts' addresses, with a small TCP server listening on them. The host side
 * of the veth gets an address of its own (a host address the sandbox must not reach); the host gets a /32 route
 * to each test address via the veth, so nothing else is ever routed there. Addresses are picked per run from
 * documentation ranges (198.51.100.0/24, 203.0.113.0/24: "public" from the sandbox's view, routed nowhere else)
 * and from private/link-local ranges for the hosts that must stay unreachable. {@link #close} removes all of it.
 */
final class TestNetHosts implements AutoCloseable {
    static final Duration TOOL_TIMEOUT = Duration.ofSeconds(10);
    /** Ports the server listens on. */
    static final int PORT = 18080;
    static final int OTHER_PORT = 18081;

    final String netns;
    final String hostVeth;
    final String nsVeth;
    /** The host's own address on the veth (a host address: never reachable from a sandbox). */
    final String hostSide;
    final String publicA;
    final String publicB;
    final String privateHost;
    /** IPv6: the host's address on the veth, and a "public" test host (2001:db8::/32, documentation). */
    final String hostSide6;
    final String public6;
    /** The metadata address when this host does not route it itself, else another link-local one. */
    final String linkLocal;
    private final List<String> hostRoutes = new ArrayList<>();
    private final List<String> hostRoutes6 = new ArrayList<>();
    private Process server;

    private TestNetHosts(boolean metadataAddress) {
        String id = UUID.randomUUID().toString().replace("-", "").substring(0, 6);
        netns = "kiln-test-" + id;
        hostVeth = "kt" + id + "h";
        nsVeth = "kt" + id + "n";
        ThreadLocalRandom r = ThreadLocalRandom.current();
        int a = r.nextInt(10, 120);
        hostSide = "203.0.113." + r.nextInt(10, 250);
        publicA = "198.51.100." + a;
        publicB = "198.51.100." + (a + 1 + r.nextInt(0, 100));
        privateHost = "172.31." + r.nextInt(1, 254) + "." + r.nextInt(1, 254);
        String net6 = "2001:db8:" + Integer.toHexString(r.nextInt(1, 0xffff)) + "::";
        hostSide6 = net6 + "1";
        public6 = net6 + "7";
        linkLocal = metadataAddress ? "169.254.169.254" : "169.254." + r.nextInt(1, 254) + "." + r.nextInt(1, 254);
    }

    static boolean toolsPresent() {
        return java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/sbin/ip"))
                || java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/ip"));
    }

    /** Creates the namespace, veth pair, addresses, routes and the server; on any failure removes what it made. */
    static TestNetHosts create() throws IOException {
        TestNetHosts h = new TestNetHosts(true);
        for (int i = 0; i < 20 && !h.unused(); i++) h = new TestNetHosts(false);
        if (!h.unused()) throw new IOException("no free test addresses found (this host routes them all)");
        try {
            h.setUp();
            return h;
        } catch (IOException | RuntimeException e) {
            h.close();
            throw e;
        }
    }

    private void setUp() throws IOException {
        ip("netns", "add", netns);
        ip("link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth);
        ip("link", "set", nsVeth, "netns", netns);
        ip("addr", "add", hostSide + "/32", "dev", hostVeth);
        ip("link", "set", hostVeth, "up");
        inNs("ip", "link", "set", "lo", "up");
        inNs("ip", "link", "set", nsVeth, "up");
        for (String addr : List.of(publicA, publicB, privateHost, linkLocal)) {
            inNs("ip", "addr", "add", addr + "/32", "dev", nsVeth);
            ip("route", "add", addr + "/32", "dev", hostVeth, "src", hostSide);
            hostRoutes.add(addr);
        }
        inNs("ip", "route", "add", hostSide + "/32", "dev", nsVeth);
        inNs("ip", "route", "add", "default", "via", hostSide, "dev", nsVeth, "onlink");
        ip("-6", "addr", "add", hostSide6 + "/128", "dev", hostVeth, "nodad");
        inNs("ip", "-6", "addr", "add", public6 + "/128", "dev", nsVeth, "nodad");
        ip("-6", "route", "add", public6 + "/128", "dev", hostVeth, "src", hostSide6);
        hostRoutes6.add(public6);
        inNs("ip", "-6", "route", "add", hostSide6 + "/128", "dev", nsVeth);
        inNs("ip", "-6", "route", "add", "default", "via", hostSide6, "dev", nsVeth, "onlink");
        // answers "<port> <address it was reached at>" and closes
        String code = """
                import socket, threading
                def serve(port, family=socket.AF_INET):
                    s = socket.socket(family); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind(('::' if family == socket.AF_INET6 else '0.0.0.0', port)); s.listen(64)
                    while True:
                        c, _ = s.accept()
                        try: c.sendall((str(port) + ' ' + c.getsockname()[0] + '\\n').encode())
                        finally: c.close()
                threading.Thread(target=serve, args=(OTHER_PORT,), daemon=True).start()
                threading.Thread(target=serve, args=(PORT, socket.AF_INET6), daemon=True).start()
                serve(PORT)
                """.replace("OTHER_PORT", Integer.toString(OTHER_PORT)).replace("PORT", Integer.toString(PORT));
        server = new ProcessBuilder("ip", "netns", "exec", netns, "python3", "-c", code)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TOOL_TIMEOUT.toNanos();
        while (!listening()) {
            if (!server.isAlive() || System.nanoTime() > deadline) throw new IOException("test server did not start");
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    /**
     * Whether none of the picked addresses is the host's or routed anywhere but by its default route: nothing real
     * (a cloud's metadata route included) is ever taken over.
     */
    private boolean unused() throws IOException {
        List<String[]> own = hostAddresses();
        for (String addr : List.of(hostSide, publicA, publicB, privateHost, linkLocal, hostSide6, public6)) {
            HostCommand.Outcome routes = HostCommand.run(List.of("ip", "route", "show", "match", addr), TOOL_TIMEOUT);
            if (!routes.ok()) throw new IOException("ip route show match " + addr + ": " + routes.output());
            if (routes.output().lines().anyMatch(l -> !l.isBlank() && !l.startsWith("default "))) return false;
            if (own.stream().anyMatch(a -> a[0].equals(addr))) return false;
        }
        return true;
    }

    private boolean listening() {
        HostCommand.Outcome o = HostCommand.run(List.of("ip", "netns", "exec", netns, "ss", "-ltnH"), TOOL_TIMEOUT);
        return o.ok() && o.output().contains("0.0.0.0:" + PORT) && o.output().contains("[::]:" + PORT)
                && o.output().contains(":" + OTHER_PORT);
    }

    private void inNs(String... cmd) throws IOException {
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        argv.addAll(List.of(cmd));
        run(argv);
    }

    private static void ip(String... args) throws IOException {
        List<String> argv = new ArrayList<>(List.of("ip"));
        argv.addAll(List.of(args));
        run(argv);
    }

    private static void run(List<String> argv) throws IOException {
        HostCommand.Outcome o = HostCommand.run(argv, TOOL_TIMEOUT);
        if (!o.ok()) throw new IOException(String.join(" ", argv) + ": " + o.output());
    }

    /** Every address of the host's interfaces, from {@code ip -o addr}: {@code [address, interface]}. */
    static List<String[]> hostAddresses() throws IOException {
        HostCommand.Outcome o = HostCommand.run(List.of("ip", "-o", "addr"), TOOL_TIMEOUT);
        if (!o.ok()) throw new IOException("ip -o addr: " + o.output());
        java.util.regex.Pattern line = java.util.regex.Pattern.compile("^\\d+:\\s+(\\S+)\\s+inet6?\\s+([^/\\s]+)");
        List<String[]> out = new ArrayList<>();
        for (String l : o.output().split("\n")) {
            var m = line.matcher(l);
            if (m.find()) out.add(new String[] {m.group(2), m.group(1)});
        }
        return out;
    }

    @Override
    public void close() {
        if (server != null) {
            server.destroyForcibly();
            try {
                server.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String addr : hostRoutes) HostCommand.run(List.of("ip", "route", "del", addr + "/32", "dev", hostVeth), TOOL_TIMEOUT);
        for (String addr : hostRoutes6) {
            HostCommand.run(List.of("ip", "-6", "route", "del", addr + "/128", "dev", hostVeth), TOOL_TIMEOUT);
        }
        HostCommand.run(List.of("ip", "link", "del", hostVeth), TOOL_TIMEOUT);
        HostCommand.run(List.of("ip", "netns", "del", netns), TOOL_TIMEOUT);
    }
}
