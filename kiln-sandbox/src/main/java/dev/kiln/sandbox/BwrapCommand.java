package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the argv of one sandboxed run: {@code /bin/sh -c <join cgroups, set rlimits, open the seccomp filter,
 * then exec> sh <n> <procs files...> <nofile> <fsize> <nproc> <filter> [setpriv ...] bwrap ... python -u
 * /code/main.py}; with the network, the cgroups are joined first, then pasta makes the sandbox's network namespace
 * ({@link UserNetwork}) and the rest runs in it. The shell puts itself into the execution's cgroups before anything else runs, so every descendant
 * is born inside them; it sets the {@link SandboxRlimits} and opens the {@link SeccompFilters} program on fd 3,
 * which bwrap ({@code --seccomp 3}) reads, closes, and installs just before it execs the job. Paths and values are
 * positional arguments, never interpolated into the script.
 */
final class BwrapCommand {
    /** Joins the cgroups named by the first $1 arguments, then shifts them away. */
    private static final String JOIN = "n=$1; shift; "
            + "while [ \"$n\" -gt 0 ]; do "
            + "echo $$ > \"$1\" || { echo \"" + ResultClassifier.SETUP_MARKER + " cannot join cgroup $1\" >&2; exit "
            + ResultClassifier.SETUP_EXIT_CODE + "; }; "
            + "shift; n=$((n-1)); done; ";
    /**
     * Sets RLIMIT_CORE 0 and $1..$3 as RLIMIT_NOFILE, RLIMIT_FSIZE (512-byte blocks) and RLIMIT_NPROC ("-":
     * unchanged); opens $4 (the seccomp program; empty: none) on fd 3; then execs the rest.
     */
    static final String LIMITS = "{ ulimit -c 0 && ulimit -n \"$1\" && { [ \"$2\" = - ] || ulimit -f \"$2\"; } "
            + "&& { [ \"$3\" = - ] || ulimit -p \"$3\"; }; } || { echo \"" + ResultClassifier.SETUP_MARKER
            + " cannot set the resource limits\" >&2; exit " + ResultClassifier.SETUP_EXIT_CODE + "; }; "
            + "if [ -n \"$4\" ]; then [ -r \"$4\" ] || { echo \"" + ResultClassifier.SETUP_MARKER
            + " cannot read the seccomp filter $4\" >&2; exit " + ResultClassifier.SETUP_EXIT_CODE + "; }; "
            + "exec 3< \"$4\"; fi; "
            + "shift 4; exec \"$@\"";
    /** Without the network: joins the cgroups, then {@link #LIMITS}, in one shell. */
    static final String WRAPPER = JOIN + LIMITS;
    /**
     * With the network: joins the cgroups and execs the network's prefix (pasta and its filter shell,
     * {@link UserNetwork}), which runs {@link #LIMITS} in the sandbox's network namespace.
     */
    static final String JOIN_ONLY = JOIN + "exec \"$@\"";
    /** The wrapper's fd for the seccomp program; bwrap closes it after reading. */
    static final String SECCOMP_FD = "3";

    static final Map<String, String> BASE_ENV = baseEnv();
    /** Where a layer's packages and shared code appear in the sandbox. */
    static final String LAYER_SITE = "/kiln/site";
    static final String LAYER_SHARED = "/kiln/shared";
    static final String LAYER_PYTHONPATH = "/input:" + LAYER_SHARED + ":" + LAYER_SITE;
    private static final List<String> SYSTEM_DIRS = List.of("bin", "lib", "lib64", "sbin");
    static final String USR_LOCAL = "/usr/local";
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
    private final SeccompFilters seccomp;

    /** @throws IllegalStateException when the seccomp filters cannot be compiled (see {@link SeccompFilters}) */
    BwrapCommand(BwrapConfig config) {
        this(config, Path.of("/"));
    }

    /** {@code hostRoot} is only for tests of the merged-/usr detection. */
    BwrapCommand(BwrapConfig config, Path hostRoot) {
        this.config = config;
        this.hostRoot = hostRoot;
        this.seccomp = SeccompFilters.shared();
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
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, null, List.of());
    }

    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, layer, List.of());
    }

    /** As uid 65534 (or without setpriv), with the rlimits of a request with the default /output cap (tests). */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer, List<String> interpreterFlags) {
        return build(layout, procsFiles, dropPrivileges ? Privileges.SANDBOX_UID : -1, network, jobEnvironment,
                tmpBytes, layer, interpreterFlags, SandboxRlimits.forJob(
                        dev.kiln.core.OutputLimits.DEFAULTS.maxOutputDirBytes(), tmpBytes, 0));
    }

    /** Without the network ({@code network} must be false: a sandbox with the network needs its {@link UserNetwork.Setup}). */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, boolean network,
                       Map<String, String> jobEnvironment, long tmpBytes) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, null);
    }

    /**
     * {@code layer} (null: none) adds {@code /kiln/site} and {@code /kiln/shared} read-only, puts them on
     * {@code PYTHONPATH} after {@code /input}, and runs the layer's interpreter instead of the configured one.
     */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, boolean network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer) {
        return build(layout, procsFiles, dropPrivileges, network, jobEnvironment, tmpBytes, layer, List.of());
    }

    /**
     * {@code interpreterFlags} go before {@code -u} (only for Kiln's own probes, e.g. {@code -vv}: a job's
     * interpreter always runs as {@code python -u /code/main.py}).
     */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, boolean dropPrivileges, boolean network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer, List<String> interpreterFlags) {
        if (network) throw new IllegalArgumentException("a sandbox with the network needs its UserNetwork.Setup");
        return build(layout, procsFiles, dropPrivileges, (UserNetwork.Setup) null, jobEnvironment, tmpBytes, layer,
                interpreterFlags);
    }

    /**
     * {@code hostUid}: what setpriv drops to before bwrap (the sandbox's leased uid); -1: no setpriv.
     * {@code rlimits}: what the wrapper sets (a job's come from its /output cap, /tmp size and pids limit).
     */
    List<String> build(WorkDirLayout layout, List<Path> procsFiles, int hostUid, UserNetwork.Setup network,
                       Map<String, String> jobEnvironment, long tmpBytes, Layer layer, List<String> interpreterFlags,
                       SandboxRlimits rlimits) {
        List<String> argv = launcher(procsFiles, hostUid, network, rlimits);
        Map<String, String> env = new LinkedHashMap<>(BASE_ENV);
        if (layer != null) env.put("PYTHONPATH", LAYER_PYTHONPATH);
        env.putAll(jobEnvironment);
        env.forEach((k, v) -> argv.addAll(List.of("--setenv", k, v)));
        argv.addAll(identityArgs("kiln"));
        String python = layer != null ? layer.interpreter().path().toString() : config.python().toString();
        argv.addAll(hostTreeArgs(Path.of(python)));
        // bwrap's tmpfs with size 0 would be unlimited
        argv.addAll(List.of("--size", Long.toString(Math.max(4096, tmpBytes)), "--tmpfs", "/tmp"));
        argv.addAll(hostEtcArgs());
        argv.addAll(networkEtcArgs(network));
        argv.addAll(List.of("--ro-bind", layout.etc().resolve("passwd").toString(), "/etc/passwd"));
        argv.addAll(List.of("--ro-bind", layout.etc().resolve("group").toString(), "/etc/group"));
        argv.addAll(List.of("--ro-bind", layout.input().toString(), "/input"));
        argv.addAll(List.of("--ro-bind", layout.code().toString(), "/code"));
        argv.addAll(List.of("--bind", layout.output().toString(), "/output"));
        if (layer != null) {
            argv.addAll(List.of("--ro-bind", layer.sitePackages().toString(), LAYER_SITE));
            if (layer.sharedCode() != null) argv.addAll(List.of("--ro-bind", layer.sharedCode().toString(), LAYER_SHARED));
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
     * {@code /bin/sh -c <wrapper> sh <n> <procs...> <rlimits> <filter> [setpriv ...] bwrap --unshare-all
     * --unshare-user --disable-userns [--seccomp 3] --die-with-parent --new-session --clearenv}: everything up to the
     * environment. The same for jobs (cold and warm) and layer builds. With {@code network} (null: none):
     * {@code /bin/sh -c <join> sh <n> <procs...> <network prefix: pasta, filter> /bin/sh -c <limits> sh <rlimits>
     * <filter> [setpriv ...] bwrap ... --share-net ...}: bwrap shares the namespace pasta made for this sandbox, never
     * the host's.
     */
    List<String> launcher(List<Path> procsFiles, boolean dropPrivileges, UserNetwork.Setup network,
                          SandboxRlimits rlimits) {
        return launcher(procsFiles, dropPrivileges ? Privileges.SANDBOX_UID : -1, network, rlimits);
    }

    /** {@code hostUid} (and the gid of the same number): what setpriv drops to; -1: no setpriv (Kiln is not root). */
    List<String> launcher(List<Path> procsFiles, int hostUid, UserNetwork.Setup network, SandboxRlimits rlimits) {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", network == null ? WRAPPER : JOIN_ONLY, "sh",
                Integer.toString(procsFiles.size())));
        for (Path p : procsFiles) argv.add(p.toString());
        if (network != null) {
            argv.addAll(network.prefix());
            argv.addAll(List.of("/bin/sh", "-c", LIMITS, "sh"));
        }
        argv.addAll(rlimits.wrapperArgs());
        Path filter = seccomp.file(network != null);
        argv.add(filter == null ? "" : filter.toString());
        if (hostUid >= 0) {
            argv.addAll(List.of(config.setpriv().toString(), "--reuid=" + hostUid, "--regid=" + hostUid,
                    "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"));
        }
        argv.add(config.bwrap().toString());
        argv.add("--unshare-all");
        if (network != null) argv.add("--share-net");
        // no nested user namespace (bwrap >= 0.8; --disable-userns needs --unshare-user spelled out)
        argv.addAll(List.of("--unshare-user", "--disable-userns"));
        if (filter != null) argv.addAll(List.of("--seccomp", SECCOMP_FD));
        argv.addAll(List.of("--die-with-parent", "--new-session", "--clearenv"));
        return argv;
    }

    /** uid/gid 65534 inside (whatever host uid the sandbox holds), the hostname, no capabilities. */
    static List<String> identityArgs(String hostname) {
        return List.of("--uid", Integer.toString(Privileges.SANDBOX_UID), "--gid", Integer.toString(Privileges.SANDBOX_GID),
                "--hostname", hostname, "--cap-drop", "ALL");
    }

    /** Read-only /usr (without /usr/local), the system dirs, private /proc and /dev. */
    List<String> hostTreeArgs() {
        return hostTreeArgs(null);
    }

    /**
     * Read-only /usr, the system dirs, private /proc and /dev. {@code /usr/local} (what the host's admin installed
     * by hand: other pythons, tools, sometimes credentials in /usr/local/etc) is hidden under an empty read-only
     * tmpfs, unless {@code interpreter} (the one this sandbox runs; null: none) lives there and needs its prefix.
     */
    List<String> hostTreeArgs(Path interpreter) {
        List<String> args = new ArrayList<>(List.of("--ro-bind", "/usr", "/usr"));
        if (Files.isDirectory(hostRoot.resolve(USR_LOCAL.substring(1)), java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && !livesInUsrLocal(interpreter)) {
            args.addAll(List.of("--perms", "0555", "--tmpfs", USR_LOCAL, "--remount-ro", USR_LOCAL));
        }
        args.addAll(systemDirArgs());
        args.addAll(List.of("--proc", "/proc", "--dev", "/dev"));
        return args;
    }

    static boolean livesInUsrLocal(Path interpreter) {
        if (interpreter == null) return false;
        Path p = interpreter.toAbsolutePath().normalize();
        if (p.startsWith(USR_LOCAL)) return true;
        try {
            return p.toRealPath().startsWith(USR_LOCAL);
        } catch (IOException e) {
            return false;
        }
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
