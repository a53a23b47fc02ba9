package dev.kiln.sandbox;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The argv of one layer build: the same launcher as a job ({@link BwrapCommand#launcher}: cgroups joined first, a uid of
 * its own, all namespaces unshared), read-only {@code /usr} (no {@code /usr/local}), the staging {@code site/} writable at {@code /kiln/site}
 * (the path jobs see it at, so compiled files name the right paths), the staging {@code tmp/} writable at
 * {@code /tmp}, Kiln's copy of each find-links source read-only at {@code /kiln/find-links/<i>}, and nothing else of
 * the host.
 * The sandbox's root is remounted read-only. The network (plus the few {@code /etc} files name resolution and TLS
 * need) only when an index may be consulted.
 */
final class LayerBuildCommand {
    static final String FIND_LINKS = "/kiln/find-links";
    private static final Map<String, String> ENV = buildEnv();

    private final BwrapCommand base;

    LayerBuildCommand(BwrapConfig config) {
        this.base = new BwrapCommand(config);
    }

    private static Map<String, String> buildEnv() {
        return BwrapCommand.commonEnv();
    }

    /**
     * The staging directories the sandbox gets: {@code site} and {@code tmp} writable, {@code etc} with passwd/group,
     * and Kiln's copies of the find-links sources ({@link PackageSourceStaging}), one per source, read-only. Without
     * copies (empty) the sources themselves are bound, which needs them readable by the build's uid.
     */
    record Dirs(Path site, Path tmp, Path etc, List<Path> findLinks) {
        Dirs {
            findLinks = findLinks == null ? List.of() : List.copyOf(findLinks);
        }

        Dirs(Path site, Path tmp, Path etc) {
            this(site, tmp, etc, List.of());
        }

        Dirs withFindLinks(List<Path> staged) {
            return new Dirs(site, tmp, etc, staged);
        }
    }

    /** Runs {@code command} (absolute paths as the sandbox sees them) in the build sandbox. */
    List<String> build(Dirs dirs, List<Path> procsFiles, boolean dropPrivileges, PipSources sources,
                       List<String> command) {
        return build(dirs, procsFiles, dropPrivileges ? Privileges.SANDBOX_UID : -1, sources, null, command,
                LayerBuildLimits.DEFAULTS.pidsMax());
    }

    /** As uid 65534 (or without setpriv), with the default build limits (tests). */
    List<String> build(Dirs dirs, List<Path> procsFiles, boolean dropPrivileges, PipSources sources,
                       UserNetwork.Setup network, List<String> command) {
        return build(dirs, procsFiles, dropPrivileges ? Privileges.SANDBOX_UID : -1, sources, network, command,
                LayerBuildLimits.DEFAULTS.pidsMax());
    }

    /**
     * {@code hostUid}: the build's leased uid setpriv drops to; -1: none (Kiln is not root). {@code network} (null:
     * none) as prepared for {@link PipSources#needsNetwork()} builds. {@code pidsMax}: the build's pids limit, behind
     * which RLIMIT_NPROC is a second line.
     */
    List<String> build(Dirs dirs, List<Path> procsFiles, int hostUid, PipSources sources, UserNetwork.Setup network,
                       List<String> command, int pidsMax) {
        List<String> argv = base.launcher(procsFiles, hostUid, network,
                SandboxRlimits.forLayerBuild(SandboxRlimits.processes(pidsMax, hostUid >= 0)));
        ENV.forEach((k, v) -> argv.addAll(List.of("--setenv", k, v)));
        argv.addAll(BwrapCommand.identityArgs("kiln-build"));
        argv.addAll(base.hostTreeArgs(command.isEmpty() ? null : Path.of(command.getFirst())));
        argv.addAll(base.hostEtcArgs());
        argv.addAll(base.networkEtcArgs(network));
        argv.addAll(List.of("--ro-bind", dirs.etc().resolve("passwd").toString(), "/etc/passwd"));
        argv.addAll(List.of("--ro-bind", dirs.etc().resolve("group").toString(), "/etc/group"));
        argv.addAll(List.of("--bind", dirs.tmp().toString(), "/tmp"));
        argv.addAll(List.of("--bind", dirs.site().toString(), BwrapCommand.LAYER_SITE));
        List<String> inside = sandboxFindLinks(sources);
        for (int i = 0; i < inside.size(); i++) {
            if (!dirs.findLinks().isEmpty()) {
                argv.addAll(List.of("--ro-bind", dirs.findLinks().get(i).toString(), FIND_LINKS + "/" + i));
            } else {
                argv.addAll(List.of("--ro-bind", sources.findLinks().get(i).toString(), inside.get(i)));
            }
        }
        // the sandbox's own root (and /etc in it) read-only too: only site/ and tmp/ take writes
        argv.addAll(List.of("--remount-ro", "/", "--chdir", "/tmp"));
        argv.addAll(command);
        return argv;
    }

    /** Where each find-links path appears: a directory as {@code /kiln/find-links/<i>}, a file under it by its name. */
    static List<String> sandboxFindLinks(PipSources sources) {
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < sources.findLinks().size(); i++) {
            Path p = sources.findLinks().get(i);
            String dir = FIND_LINKS + "/" + i;
            paths.add(Files.isDirectory(p) || p.getFileName() == null ? dir : dir + "/" + p.getFileName());
        }
        return paths;
    }

    /** {@code <python> -m pip install ... --target /kiln/site <source flags> <requirements>}. */
    static List<String> pipInstall(PythonInterpreters.Interpreter interpreter, PipSources sources,
                                   List<String> requirements) {
        List<String> cmd = new ArrayList<>(List.of(interpreter.path().toString(), "-m", "pip", "install",
                "--isolated", "--no-input", "--no-cache-dir", "--disable-pip-version-check",
                "--no-warn-script-location", "--progress-bar", "off", "--target", BwrapCommand.LAYER_SITE));
        cmd.addAll(sources.pipArgs(sandboxFindLinks(sources)));
        cmd.addAll(requirements);
        return cmd;
    }
}
