package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the argv of one sandboxed run:
 * {@code /bin/sh -c <join cgroups, then exec> sh <n> <procs files...> [setpriv ...] bwrap ... python -u /code/main.py}.
 * The shell puts itself into the execution's cgroups before anything else runs, so every descendant is born
 * inside them; cgroup paths are positional arguments, never interpolated into the script.
 */
final class BwrapCommand {
    /** Joins the cgroups named by the first $1 arguments, then execs the rest. */
    static final String WRAPPER = "n=$1; shift; "
            + "while [ \"$n\" -gt 0 ]; do "
            + "echo $$ > \"$1\" || { echo \"" + ResultClassifier.SETUP_MARKER + " cannot join cgroup $1\" >&2; exit "
            + ResultClassifier.SETUP_EXIT_CODE + "; }; "
            + "shift; n=$((n-1)); done; "
            + "exec \"$@\"";

    static final Map<String, String> BASE_ENV = baseEnv();
    /** Where a layer's packages and shared code appear in the sandbox. */
    static final String LAYER_SITE = "/kiln/site";
    static final String LAYER_SHARED = "/kiln/shared";
    static final String LAYER_PYTHONPATH = "/input:" + LAYER_SHARED + ":" + LAYER_SITE;
    private static final List<String> SYSTEM_DIRS = List.of("bin", "lib", "lib64", "sbin");
    private static final List<String> HOST_ETC_FILES = List.of("/etc/ld.so.cache", "/etc/localtime");
    /**
     * What name resolution and TLS read from the host's /etc, for sandboxes with the network (a job type with
     * {@code network_enabled}, a layer build that consults an index). Certificates only: not /etc/ssl/private.
     */
    static final List<String> NETWORK_ETC = List.of("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
            "/etc/host.conf", "/etc/gai.conf", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates",
            "/etc/ca-certificates.conf", "/etc/pki/tls/certs", "/etc/pki/ca-trust");

    private final BwrapConfig config;
    private final Path hostRoot;

    BwrapCommand(BwrapConfig config) {
        this(config, Path.of("/"));
    }

    /** {@code hostRoot} is only for tests of the merged-/usr detection. */
    BwrapCommand(BwrapConfig config, Path hostRoot) {
        this.config = config;
        this.hostRoot = hostRoot;
    }

    /** What every sandbox starts with after --clearenv (jobs and layer builds alike). */
    static Map<String, String> commonEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.put("HOME", "/tmp");
        env.put("TMPDIR", "/tmp");
        env.put("LANG", "C.UTF-8");
        env.put("PYTHONUNBUFFERED", "1");
        return env;
    }

    private static Map<String, String> baseEnv() {
        Map<String, String> env = commonEnv();
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        env.put("PYTHONPATH", "/input");
        return env;
    }

    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, null);
    }

    /** Without the network ({@code network} must be false: a sandbox with the network needs its {@link UserNetwork.Setup}). */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, boolean network,
                       Map<String, String> jobEnvironment, long tmpBytes) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, null);
    }

    /** Without the network, see above. */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, boolean network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer) {
        if (network) throw new IllegalArgumentException("a sandbox with the network needs its UserNetwork.Setup");
        return build(layout, procsFiles, dropPrivileges, (UserNetwork.Setup) null, jobEnvironment, tmpBytes, layer);
    }

    /**
     * {@code layer} (null: none) adds {@code /kiln/site} and {@code /kiln/shared} read-only, puts them on
     * {@code PYTHONPATH} after {@code /input}, and runs the layer's interpreter instead of the configured one.
     */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, layer, List.of());
    }

    /**
     * {@code interpreterFlags} go before {@code -u} (only for Kiln's own probes, e.g. {@code -vv}: a job's
     * interpreter always runs as {@code python -u /code/main.py}).
     */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer, List<String> interpreterFlags) {
        List<String> argv = launcher(procsFiles, dropPrivileges, network);
        Map<String, String> env = new LinkedHashMap<>(BASE_ENV);
        if (layer != null) env.put("PYTHONPATH", LAYER_PYTHONPATH);
        env.putAll(jobEnvironment);
        env.forEach((k, v) -> argv.addAll(List.of("--setenv", k, v)));
        argv.addAll(identityArgs("kiln"));
        argv.addAll(hostTreeArgs());
        // bwrap's tmpfs with size 0 would be unlimited
        argv.addAll(List.of("--size", Long.toString(Math.max(4096, tmpBytes)), "--tmpfs", "/tmp"));
        argv.addAll(hostEtcArgs());
        argv.addAll(networkEtcArgs(network));
        argv.addAll(List.of("--ro-bind", layout.etc().resolve("passwd").toString(), "/etc/passwd"));
        argv.addAll(List.of("--ro-bind", layout.etc().resolve("group").toString(), "/etc/group"));
        argv.addAll(List.of("--ro-bind", layout.input().toString(), "/input"));
        argv.addAll(List.of("--ro-bind", layout.code().toString(), "/code"));
        argv.addAll(List.of("--bind", layout.output().toString(), "/output"));
        String python = config.python().toString();
        if (layer != null) {
            argv.addAll(List.of("--ro-bind", layer.sitePackages().toString(), LAYER_SITE));
            if (layer.sharedCode() != null) argv.addAll(List.of("--ro-bind", layer.sharedCode().toString(), LAYER_SHARED));
            python = layer.interpreter().path().toString();
        }
        argv.addAll(List.of("--chdir", "/input", python));
        argv.addAll(interpreterFlags);
        argv.addAll(List.of("-u", "/code/main.py"));
        return argv;
    }

    /** With the network: what name resolution and TLS need, and the sandbox's own /etc/hosts when it has one. */
    List<String> networkEtcArgs(UserNetwork.Setup network) {
        if (network == null) return List.of();
        List<String> args = new ArrayList<>(hostFileArgs(NETWORK_ETC));
        if (network.hostsFile() != null) args.addAll(List.of("--ro-bind", network.hostsFile().toString(), "/etc/hosts"));
        return args;
    }

    /**
     * {@code /bin/sh -c <join cgroups> sh <n> <procs...> [<network prefix: pasta, filter>] [setpriv ...] bwrap
     * --unshare-all [--share-net] --die-with-parent --new-session --clearenv}: everything up to the environment.
     * With {@code network} (null: none), bwrap shares the namespace pasta made for this sandbox, never the host's.
     */
    List<String> launcher(List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network) {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", WRAPPER, "sh", Integer.toString(procsFiles.size())));
        for (Path p : procsFiles) argv.add(p.toString());
        if (network != null) argv.addAll(network.prefix());
        if (dropPrivileges) {
            argv.addAll(List.of(config.setpriv().toString(), "--reuid=" + Privileges.SANDBOX_UID,
                    "--regid=" + Privileges.SANDBOX_GID, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"));
        }
        argv.add(config.bwrap().toString());
        argv.add("--unshare-all");
        if (network != null) argv.add("--share-net");
        argv.addAll(List.of("--die-with-parent", "--new-session", "--clearenv"));
        return argv;
    }

    /** uid/gid 65534 inside, the hostname, no capabilities. */
    static List<String> identityArgs(String hostname) {
        return List.of("--uid", Integer.toString(Privileges.SANDBOX_UID), "--gid", Integer.toString(Privileges.SANDBOX_GID),
                "--hostname", hostname, "--cap-drop", "ALL");
    }

    /** Read-only /usr, the system dirs, private /proc and /dev. */
    List<String> hostTreeArgs() {
        List<String> args = new ArrayList<>(List.of("--ro-bind", "/usr", "/usr"));
        args.addAll(systemDirArgs());
        args.addAll(List.of("--proc", "/proc", "--dev", "/dev"));
        return args;
    }

    /** The few host files of /etc every sandbox gets (when the host has them). */
    List<String> hostEtcArgs() {
        return hostFileArgs(HOST_ETC_FILES);
    }

    /** Read-only binds of those of {@code files} (absolute host paths) that exist, at the same place. */
    List<String> hostFileArgs(List<String> files) {
        List<String> args = new ArrayList<>();
        for (String f : files) {
            if (Files.exists(hostRoot.resolve(f.substring(1)))) args.addAll(List.of("--ro-bind", f, f));
        }
        return args;
    }

    /** Merged-/usr hosts get the same symlinks; otherwise the real directories are bound read-only. */
    List<String> systemDirArgs() {
        List<String> args = new ArrayList<>();
        for (String d : SYSTEM_DIRS) {
            Path host = hostRoot.resolve(d);
            if (Files.isSymbolicLink(host)) {
                String target = readLink(host);
                if (target.equals("usr/" + d) || target.equals("/usr/" + d)) {
                    args.addAll(List.of("--symlink", "usr/" + d, "/" + d));
                }
                // any other link target would expose a tree we have not vetted: leave it out
            } else if (Files.isDirectory(host)) {
                args.addAll(List.of("--ro-bind", "/" + d, "/" + d));
            }
        }
        return args;
    }

    private static String readLink(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "";
        }
    }
}
