package dev.kiln.server.config;

import dev.kiln.core.JobType;
import dev.kiln.core.NetworkPolicy;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import dev.kiln.sandbox.PythonInterpreters;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.RequestLimits;
import dev.kiln.store.StoreLocation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** Reads {@code kiln.yaml}, strictly: unknown fields and bad values stop start-up with the file, field and why. */
public final class KilnConfigLoader {
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    static final Pattern JOB_TYPE_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
    private static final Set<String> TOP = Set.of("host", "port", "data_dir", "executor", "slots", "max_queue_size",
            "max_attempts", "shutdown_grace", "limits", "sandbox", "job_types", "production_mode", "pip", "labels",
            "local_node", "node_join_token", "node_lease", "node_heartbeat", "node_reconnect_grace", "queue_timeout",
            "idempotency_retention", "execution_grace", "store", "retention", "http", "auth");
    private static final Set<String> PIP = Set.of("index_url", "extra_index_urls", "find_links", "no_index");
    private static final Set<String> LIMITS = Set.of("max_body_size", "max_code_size", "max_input_size", "max_files",
            "max_file_size", "max_files_total_size", "max_stdout", "max_stderr", "max_output_size",
            "max_artifact_size", "max_artifacts");
    private static final Set<String> HTTP = Set.of("idle_timeout", "body_timeout", "max_connections",
            "max_connections_per_client", "max_streams", "max_streams_per_client");
    private static final Set<String> SANDBOX = Set.of("python", "bwrap", "cgroup_parent", "uid_range");
    private static final Set<String> JOB_TYPE = Set.of("name", "memory_limit", "cpu_limit", "timeout", "max_timeout",
            "pids_limit", "network_enabled", "environment", "executor", "max_output_bytes", "tmp_size",
            "requirements", "python_version", "shared_code", "pool_size", "pool_refill_concurrency", "pool_idle_ttl",
            "queue_timeout", "network");
    // A PEP 508 requirement: a name, optional extras, version specifiers, markers. Never an option ("-r", "--index").
    private static final Pattern REQUIREMENT = Pattern.compile(
            "[A-Za-z0-9][A-Za-z0-9._-]*(\\[[A-Za-z0-9._, -]+])?\\s*([<>=!~]=?=?\\s*[A-Za-z0-9.*+!_-]+"
                    + "(\\s*,\\s*[<>=!~]=?=?\\s*[A-Za-z0-9.*+!_-]+)*)?(\\s*;[^\\n]*)?");
    private static final Pattern PYTHON_VERSION = Pattern.compile("3(\\.\\d{1,2}){0,2}");
    // Names the sandbox sets itself; a job type may not replace them.
    private static final Set<String> RESERVED_ENV = Set.of("PYTHONPATH", "HOME", "TMPDIR");
    private static final long GIB = 1L << 30;
    private static final int MAX_QUEUE_TIMEOUT = dev.kiln.server.http.JobRequestParser.MAX_QUEUE_TIMEOUT;

    private KilnConfigLoader() {
    }

    public static KilnConfig load(Path file, KilnConfig base) {
        String name = file.toString();
        JsonNode root;
        try {
            root = new YAMLMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new ConfigException(name + ": cannot read: " + e.getMessage());
        } catch (JacksonException e) {
            throw new ConfigException(name + ": not valid YAML: " + e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode() || root.isNull()) return base;
        Path dir = file.toAbsolutePath().getParent();
        return parse(new ConfigNode(name, "", root), base, dir);
    }

    /** Parses YAML text; relative {@code shared_code} paths resolve against {@code baseDir}. */
    public static KilnConfig parseYaml(String fileName, String yaml, KilnConfig base, Path baseDir) {
        JsonNode root = new YAMLMapper().readTree(yaml);
        return parse(new ConfigNode(fileName, "", root), base, baseDir);
    }

    public static KilnConfig parseYaml(String fileName, String yaml, KilnConfig base) {
        return parseYaml(fileName, yaml, base, Path.of("").toAbsolutePath());
    }

    /**
     * A job type registered at run time (PUT /job-types/{name}): the same fields as in the file, except
     * {@code shared_code}, which would copy host files and so stays the operator's (file-defined types only).
     */
    public static JobType runtimeJobType(String name, JsonNode body) {
        ConfigNode t = new ConfigNode("body", "", body);
        if (t.has("shared_code")) {
            throw t.child("shared_code").error("only job types defined in the configuration file may copy host files");
        }
        if (body.isObject() && !body.has("name")) ((tools.jackson.databind.node.ObjectNode) body).put("name", name);
        JobType type = jobType(t, Path.of("/"));
        if (!type.name().equals(name)) throw t.child("name").error("must match the path ('" + name + "')");
        if (type.networkEnabled() && dev.kiln.sandbox.GvisorExecutor.NAME.equals(type.executor())) {
            throw t.child("network_enabled").error(GVISOR_NETWORK);
        }
        return type;
    }

    private static KilnConfig parse(ConfigNode root, KilnConfig base, Path baseDir) {
        root.allowOnly(TOP);
        SandboxSettings sandbox = root.has("sandbox") ? sandbox(root.child("sandbox"), base.sandbox()) : base.sandbox();
        List<JobType> jobTypes = root.has("job_types") ? jobTypes(root, baseDir) : base.jobTypes();
        checkInterpreters(root, jobTypes, sandbox);
        String executor = root.string("executor", base.executor());
        if (!dev.kiln.sandbox.ExecutorNames.isKnown(executor)) {
            throw root.child("executor").error("must be " + dev.kiln.sandbox.ExecutorNames.CHOICES + ", got '"
                    + executor + "'");
        }
        checkGvisorNetwork(root, jobTypes, executor);
        return new KilnConfig(
                root.string("host", base.host()),
                root.integer("port", base.port(), 0, 65535),
                root.has("data_dir") ? Path.of(root.string("data_dir", null)) : base.dataDir(),
                executor,
                root.integer("slots", base.slots(), 1, 1024),
                root.integer("max_queue_size", base.maxQueueSize(), 1, 10_000_000),
                root.integer("max_attempts", base.maxAttempts(), 1, 100),
                root.integer("shutdown_grace", base.shutdownGraceSeconds(), 0, 3600),
                root.has("limits") ? requestLimits(root.child("limits"), base.requestLimits()) : base.requestLimits(),
                root.has("limits") ? outputLimits(root.child("limits"), base.outputLimits()) : base.outputLimits(),
                sandbox,
                jobTypes,
                root.bool("production_mode", base.productionMode()),
                root.has("pip") ? pip(root.child("pip"), baseDir) : base.pip(),
                root.has("labels") ? labels(root) : base.labels(),
                nodeSettings(root, base.nodes()),
                root.integer("queue_timeout", base.queueTimeoutSeconds(), 1, MAX_QUEUE_TIMEOUT),
                root.integer("idempotency_retention", base.idempotencyRetentionSeconds(), 1, 366 * 86_400),
                root.integer("execution_grace", base.executionGraceSeconds(), 1, 86_400),
                root.has("store") ? store(root) : base.store(),
                root.has("retention") ? retention(root) : base.retentionSeconds(),
                root.has("http") ? http(root.child("http"), base.http()) : base.http(),
                root.has("auth") ? authMode(root.child("auth"), base.authMode()) : base.authMode());
    }

    /** {@code auth: {mode: local|required}}. */
    private static dev.kiln.server.auth.AuthMode authMode(ConfigNode n, dev.kiln.server.auth.AuthMode d) {
        n.allowOnly(Set.of("mode"));
        if (!n.has("mode")) return d;
        try {
            return dev.kiln.server.auth.AuthMode.parse(n.string("mode", null));
        } catch (IllegalArgumentException e) {
            throw n.child("mode").error(e.getMessage());
        }
    }

    /** {@code http:}: timeouts as durations ({@code 30s}, {@code 2m}), limits as counts. */
    private static HttpSettings http(ConfigNode n, HttpSettings d) {
        n.allowOnly(HTTP);
        return new HttpSettings(
                millis(n, "idle_timeout", d.idleTimeoutMillis()),
                millis(n, "body_timeout", d.bodyTimeoutMillis()),
                n.integer("max_connections", d.maxConnections(), 1, 1_000_000),
                n.integer("max_connections_per_client", d.maxConnectionsPerClient(), 1, 1_000_000),
                n.integer("max_streams", d.maxStreams(), 1, 1_000_000),
                n.integer("max_streams_per_client", d.maxStreamsPerClient(), 1, 1_000_000));
    }

    private static long millis(ConfigNode n, String field, long fallback) {
        if (!n.has(field)) return fallback;
        java.time.Duration d;
        try {
            d = dev.kiln.core.Durations.parse(n.string(field, null));
        } catch (IllegalArgumentException e) {
            throw n.child(field).error(e.getMessage());
        }
        if (d.toMillis() < 1 || d.toHours() > 24) throw n.child(field).error("must be between 1s and 24h");
        return d.toMillis();
    }

    /** {@code retention: 30d} (or seconds): how long finished jobs are kept; at least a minute. */
    private static long retention(ConfigNode root) {
        java.time.Duration d;
        try {
            d = dev.kiln.core.Durations.parse(root.string("retention", null));
        } catch (IllegalArgumentException e) {
            throw root.child("retention").error(e.getMessage());
        }
        if (d.toSeconds() < 60) throw root.child("retention").error("must be at least 1m, got " + d.toSeconds() + " s");
        return d.toSeconds();
    }

    /** {@code store: postgresql://...}; the error says what is wrong without repeating the password. */
    private static StoreLocation store(ConfigNode root) {
        try {
            return StoreLocation.parse(root.string("store", null));
        } catch (IllegalArgumentException e) {
            throw root.child("store").error(e.getMessage());
        }
    }

    private static NodeSettings nodeSettings(ConfigNode root, NodeSettings base) {
        int lease = root.integer("node_lease", base.leaseMillis(), 200, 600_000);
        int heartbeat = root.integer("node_heartbeat", base.heartbeatMillis(), 50, 60_000);
        if (heartbeat >= lease) {
            throw root.child("node_heartbeat").error("must be shorter than node_lease (" + lease + " ms)");
        }
        return new NodeSettings(root.bool("local_node", base.localNode()),
                root.string("node_join_token", base.joinToken()), lease, heartbeat,
                root.integer("node_reconnect_grace", base.reconnectGraceSeconds(), 0, 3600));
    }

    /** The in-process node's labels; each must be usable in a constraint (key=value). */
    private static java.util.Map<String, String> labels(ConfigNode root) {
        java.util.Map<String, String> labels = root.stringMap("labels");
        for (var e : labels.entrySet()) {
            try {
                dev.kiln.core.LabelConstraint.parse(e.getKey() + "=" + e.getValue());
            } catch (IllegalArgumentException bad) {
                throw root.child("labels").error("'" + e.getKey() + ": " + e.getValue() + "' is not a label: keys "
                        + "and values are letters, digits, '.', '_', '-', '/' (values also ':'), at most 63");
            }
        }
        return labels;
    }

    static final String GVISOR_NETWORK = "cannot be true on the gvisor executor yet (it runs with --network=none; "
            + "--network=host would reach the host's loopback): use executor: bwrap for this type";

    /** gVisor runs with --network=none for now (docs/sandbox.md): a network-enabled type on it is refused. */
    private static void checkGvisorNetwork(ConfigNode root, List<JobType> types, String defaultExecutor) {
        if (!root.has("job_types")) return;
        for (int i = 0; i < types.size(); i++) {
            JobType t = types.get(i);
            String executor = t.executor() != null ? t.executor() : defaultExecutor;
            if (t.networkEnabled() && dev.kiln.sandbox.GvisorExecutor.NAME.equals(executor)) {
                throw root.list("job_types").get(i).child("network_enabled").error(GVISOR_NETWORK);
            }
        }
    }

    /** "python_version: error if the host has none that matches" (a job type's interpreter must exist). */
    private static void checkInterpreters(ConfigNode root, List<JobType> types, SandboxSettings sandbox) {
        PythonInterpreters interpreters = null;
        for (int i = 0; i < types.size(); i++) {
            String version = types.get(i).packages().pythonVersion();
            if (version == null) continue;
            if (interpreters == null) interpreters = new PythonInterpreters(Path.of(sandbox.python()));
            try {
                interpreters.resolve(version);
            } catch (IllegalArgumentException e) {
                throw root.list("job_types").get(i).child("python_version").error(e.getMessage());
            }
        }
    }

    private static PipSettings pip(ConfigNode n, Path baseDir) {
        n.allowOnly(PIP);
        List<Path> findLinks = new ArrayList<>();
        for (String dir : n.stringList("find_links")) {
            Path p = baseDir.resolve(dir).normalize();
            if (!Files.isDirectory(p)) throw n.child("find_links").error("'" + dir + "' is not a directory");
            findLinks.add(p);
        }
        return new PipSettings(n.string("index_url", null), n.stringList("extra_index_urls"), findLinks,
                n.bool("no_index", false));
    }

    private static RequestLimits requestLimits(ConfigNode n, RequestLimits d) {
        n.allowOnly(LIMITS);
        return new RequestLimits(
                n.size("max_body_size", d.maxBodyBytes(), 1024, GIB),
                n.size("max_code_size", d.maxCodeBytes(), 1, GIB),
                n.size("max_input_size", d.maxInputBytes(), 0, GIB),
                n.integer("max_files", d.maxFiles(), 0, 100_000),
                n.size("max_file_size", d.maxFileBytes(), 0, GIB),
                n.size("max_files_total_size", d.maxFilesTotalBytes(), 0, GIB));
    }

    private static OutputLimits outputLimits(ConfigNode n, OutputLimits d) {
        return new OutputLimits(
                n.size("max_stdout", d.maxStdoutBytes(), 0, GIB),
                n.size("max_stderr", d.maxStderrBytes(), 0, GIB),
                n.size("max_output_size", d.maxOutputDirBytes(), 0, 64 * GIB),
                n.size("max_artifact_size", d.maxArtifactBytes(), 0, 64 * GIB),
                n.integer("max_artifacts", d.maxArtifacts(), 0, 100_000));
    }

    private static SandboxSettings sandbox(ConfigNode n, SandboxSettings d) {
        n.allowOnly(SANDBOX);
        String parent = n.string("cgroup_parent", d.cgroupParent());
        if (!SandboxSettings.CGROUP_PARENT.matcher(parent).matches()) {
            throw n.child("cgroup_parent").error("must be a simple name like 'kiln', got '" + parent + "'");
        }
        dev.kiln.sandbox.SandboxUidRange uids = d.uidRange();
        if (n.has("uid_range")) {
            try {
                uids = dev.kiln.sandbox.SandboxUidRange.parse(n.string("uid_range", null));
            } catch (IllegalArgumentException e) {
                throw n.child("uid_range").error(e.getMessage());
            }
        }
        return new SandboxSettings(n.string("python", d.python()), n.string("bwrap", d.bwrap()), parent, uids);
    }

    private static List<JobType> jobTypes(ConfigNode root, Path baseDir) {
        List<JobType> types = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (ConfigNode t : root.list("job_types")) {
            JobType type = jobType(t, baseDir);
            if (!seen.add(type.name())) throw t.child("name").error("duplicate job type '" + type.name() + "'");
            types.add(type);
        }
        return types;
    }

    static JobType jobType(ConfigNode t, Path baseDir) {
        t.allowOnly(JOB_TYPE);
        String name = t.string("name", null);
        if (name == null) throw t.child("name").error("is required");
        if (!JOB_TYPE_NAME.matcher(name).matches()) {
            throw t.child("name").error("must be lower-case letters, digits, '.', '_' or '-' (max 63), got '"
                    + name + "'");
        }
        int timeout = t.integer("timeout", JobType.DEFAULT_TIMEOUT, 1, 86_400);
        int maxTimeout = t.integer("max_timeout", Math.max(JobType.DEFAULT_MAX_TIMEOUT, timeout), 1, 86_400);
        if (maxTimeout < timeout) {
            throw t.child("max_timeout").error("must be at least timeout (" + timeout + "), got " + maxTimeout);
        }
        Map<String, String> env = t.stringMap("environment");
        for (String key : env.keySet()) {
            if (!ENV_NAME.matcher(key).matches()) {
                throw t.child("environment").error("'" + key + "' is not a valid variable name");
            }
            if (RESERVED_ENV.contains(key)) {
                throw t.child("environment").error("'" + key + "' is set by the sandbox and cannot be overridden");
            }
        }
        String executor = t.string("executor", null);
        if (executor != null && !dev.kiln.sandbox.ExecutorNames.isKnown(executor)) {
            throw t.child("executor").error("must be " + dev.kiln.sandbox.ExecutorNames.CHOICES + ", got '"
                    + executor + "'");
        }
        boolean networkEnabled = t.bool("network_enabled", false);
        NetworkPolicy network = network(t, networkEnabled);
        return new JobType(name,
                t.size("memory_limit", JobType.DEFAULT_MEMORY, 16L << 20, 1L << 40),
                t.decimal("cpu_limit", JobType.DEFAULT_CPU, 0.01, 1024),
                timeout, maxTimeout,
                t.integer("pids_limit", JobType.DEFAULT_PIDS, 8, 1_000_000),
                networkEnabled,
                env, executor,
                t.size("max_output_bytes", JobType.DEFAULT_MAX_OUTPUT, 0, GIB),
                t.size("tmp_size", JobType.DEFAULT_TMP_SIZE, 1L << 20, 64 * GIB),
                packages(t, baseDir),
                new WarmPoolSpec(t.has("pool_size") ? t.integer("pool_size", 0, 0, 1024) : null,
                        t.integer("pool_refill_concurrency", WarmPoolSpec.DEFAULT.refillConcurrency(), 1, 64),
                        t.integer("pool_idle_ttl", WarmPoolSpec.DEFAULT.idleTtlSeconds(), 1, 86_400)),
                t.has("queue_timeout") ? t.integer("queue_timeout", 0, 1, MAX_QUEUE_TIMEOUT) : null,
                network);
    }

    /** {@code network: {allow: [...]}}: each entry checked here, so the error names {@code network.allow[i]}. */
    private static NetworkPolicy network(ConfigNode t, boolean networkEnabled) {
        if (!t.has("network")) return NetworkPolicy.OPEN;
        ConfigNode n = t.child("network");
        n.allowOnly(Set.of("allow"));
        if (!n.has("allow")) return NetworkPolicy.OPEN;
        if (!networkEnabled) throw n.child("allow").error("needs network_enabled: true");
        List<ConfigNode> items = n.list("allow");
        List<String> texts = n.stringList("allow");
        try {
            return NetworkPolicy.parse(texts);
        } catch (NetworkPolicy.InvalidEntry e) {
            throw items.get(e.index()).error(e.getMessage());
        }
    }

    private static PackageSpec packages(ConfigNode t, Path baseDir) {
        String python = t.string("python_version", null);
        if (python != null && !PYTHON_VERSION.matcher(python).matches()) {
            throw t.child("python_version").error("must look like 3.11 or 3.11.2, got '" + python + "'");
        }
        List<String> requirements = t.stringList("requirements");
        for (int i = 0; i < requirements.size(); i++) {
            String r = requirements.get(i).strip();
            if (!REQUIREMENT.matcher(r).matches()) {
                throw t.child("requirements").error("entry " + i + " '" + r + "' is not a requirement specifier "
                        + "like 'pandas', 'numpy>=1.26' or 'requests[socks]==2.31' (options are not allowed)");
            }
            requirements.set(i, r);
        }
        List<String> shared = new ArrayList<>();
        for (String s : t.stringList("shared_code")) {
            Path p = baseDir.resolve(s).normalize();
            if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p)) {
                throw t.child("shared_code").error("'" + s + "' does not exist (or is a symbolic link), resolved to "
                        + p);
            }
            shared.add(p.toString());
        }
        return new PackageSpec(python, requirements, shared);
    }
}
