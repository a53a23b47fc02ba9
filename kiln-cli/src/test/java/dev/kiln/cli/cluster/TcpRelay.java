package dev.kiln.cli.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A second address for an orchestrator, as a load balancer would give it: a loopback port whose connections are
 * relayed byte for byte to the orchestrator's. It can hold back what the orchestrator sends (acks and pongs stop
 * reaching the node while the node's messages still arrive), and be closed, which drops its connections and
 * refuses new ones: the address went away, the orchestrator did not.
 */
final class TcpRelay implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Object gate = new Object();
    private boolean holding; // guarded by gate

    /** Relays {@code port} (0: any) to {@code target} on loopback. */
    TcpRelay(int port, int target) throws IOException {
        this.server = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
        this.target = target;
        Thread.ofVirtual().name("relay-accept-" + port).start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    String url() {
        return "http://127.0.0.1:" + port();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket downstream = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
                sockets.add(downstream);
                sockets.add(upstream);
                Thread.ofVirtual().start(() -> copy(downstream, upstream, false));
                Thread.ofVirtual().start(() -> copy(upstream, downstream, true));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** {@code fromOrchestrator}: the direction {@link #holdWhatTheOrchestratorSends()} stops. */
    private void copy(Socket from, Socket to, boolean fromOrchestrator) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (fromOrchestrator) awaitReleased();
                out.write(Arrays.copyOf(buf, n));
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // one side closed
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private void awaitReleased() throws InterruptedException {
        synchronized (gate) {
            while (holding && !server.isClosed()) gate.wait(100);
        }
    }

    /** From now on nothing the orchestrator sends gets through (until closed); the node's bytes still do. */
    void holdWhatTheOrchestratorSends() {
        synchronized (gate) {
            holding = true;
        }
    }

    @Override
    public void close() {
        closeQuietly(server);
        sockets.forEach(TcpRelay::closeQuietly);
        synchronized (gate) {
            gate.notifyAll();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing anyway
        }
    }
}
