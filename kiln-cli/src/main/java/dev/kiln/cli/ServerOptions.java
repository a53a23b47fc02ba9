package dev.kiln.cli;

import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.KilnConfigLoader;
import dev.kiln.server.config.SandboxSettings;
import dev.kiln.store.StoreLocation;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How to start a server: flags, then KILN_* environment variables, then kiln.yaml, then defaults. */
final class ServerOptions {
    @Option(names = "--port", defaultValue = "${env:KILN_PORT}", description = "HTTP port (env KILN_PORT; default 8000)")
    Integer port;

    @Option(names = "--host", defaultValue = "${env:KILN_HOST}", description = "Address to bind (default 0.0.0.0)")
    String host;

    @Option(names = "--data-dir", defaultValue = "${env:KILN_DATA_DIR}",
            description = "Data directory (env KILN_DATA_DIR; default ./kiln-data)")
    Path dataDir;

    @Option(names = "--config", defaultValue = "${env:KILN_CONFIG}",
            description = "Configuration file (env KILN_CONFIG; default ./kiln.yaml when present)")
    Path config;

    @Option(names = "--executor", defaultValue = "${env:KILN_EXECUTOR}",
            description = "Default executor: bwrap, gvisor or noop (env KILN_EXECUTOR; default bwrap)")
    String executor;

    @Option(names = "--slots", description = "Concurrent executions of the in-process node (default: CPU count)")
    Integer slots;

    @Option(names = "--local-node", arity = "1", paramLabel = "true|false",
            description = "Run an in-process compute node (default true; false: only remote nodes run jobs)")
    Boolean localNode;

    @Option(names = "--node-join-token", defaultValue = "${env:KILN_NODE_JOIN_TOKEN}",
            description = "Secret remote nodes must present (env KILN_NODE_JOIN_TOKEN; unset: loopback nodes only)")
    String nodeJoinToken;

    @Option(names = "--cgroup-parent", paramLabel = "NAME", defaultValue = "${env:KILN_CGROUP_PARENT}",
            description = "Name of Kiln's own parent cgroup, one per running Kiln on a host (env KILN_CGROUP_PARENT; "
                    + "default kiln)")
    String cgroupParent;

    @Option(names = "--uid-range", paramLabel = "FIRST-LAST", defaultValue = "${env:KILN_UID_RANGE}",
            description = "Host uids sandboxes run as, one per live sandbox, when Kiln is root (env KILN_UID_RANGE; "
                    + "default sandbox.uid_range, 100000000-100065535)")
    String uidRange;

    @Option(names = "--store", paramLabel = "URL", defaultValue = "${env:KILN_STORE}",
            description = "Where jobs, job types and artifacts live: postgresql://USER:PASSWORD@HOST:PORT/DATABASE, "
                    + "or sqlite (env KILN_STORE; default SQLite in the data directory)")
    String store;

    @Option(names = "--auth-mode", paramLabel = "local|required", defaultValue = "${env:KILN_AUTH_MODE}",
            description = "local: requests from this machine need no key; required: every request needs one "
                    + "(env KILN_AUTH_MODE; default auth.mode in kiln.yaml, else local)")
    String authMode;

    KilnConfig resolve() {
        KilnConfig c = KilnConfig.defaults();
        Path file = config != null ? config : (Files.exists(Path.of("kiln.yaml")) ? Path.of("kiln.yaml") : null);
        if (file != null) c = KilnConfigLoader.load(file, c);
        if (port != null) c = c.withPort(port);
        if (host != null) c = c.withHost(host);
        if (dataDir != null) c = c.withDataDir(dataDir);
        if (executor != null) {
            if (!dev.kiln.sandbox.ExecutorNames.isKnown(executor)) {
                throw new IllegalArgumentException("--executor must be " + dev.kiln.sandbox.ExecutorNames.CHOICES
                        + ", got '" + executor + "'");
            }
            c = c.withExecutor(executor);
        }
        if (slots != null) {
            if (slots < 1) throw new IllegalArgumentException("--slots must be at least 1, got " + slots);
            c = c.withSlots(slots);
        }
        if (cgroupParent != null) {
            if (!SandboxSettings.CGROUP_PARENT.matcher(cgroupParent).matches()) {
                throw new IllegalArgumentException("--cgroup-parent must be a simple name like 'kiln', got '"
                        + cgroupParent + "'");
            }
            c = c.withCgroupParent(cgroupParent);
        }
        if (uidRange != null && !uidRange.isBlank()) {
            try {
                c = c.withSandbox(new dev.kiln.server.config.SandboxSettings(c.sandbox().python(), c.sandbox().bwrap(),
                        c.sandbox().cgroupParent(), dev.kiln.sandbox.SandboxUidRange.parse(uidRange)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--uid-range (or KILN_UID_RANGE) " + e.getMessage());
            }
        }
        if (store != null && !store.isBlank()) {
            try {
                c = c.withStore(StoreLocation.parse(store));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--store (or KILN_STORE): " + e.getMessage());
            }
        }
        if (authMode != null && !authMode.isBlank()) {
            try {
                c = c.withAuthMode(dev.kiln.server.auth.AuthMode.parse(authMode.strip()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--auth-mode (or KILN_AUTH_MODE) " + e.getMessage());
            }
        }
        if (localNode != null) c = c.withNodes(c.nodes().withLocalNode(localNode));
        if (nodeJoinToken != null) c = c.withNodes(c.nodes().withJoinToken(nodeJoinToken));
        return c;
    }
}
