package dev.kiln.sandbox;

import dev.kiln.core.ByteSize;
import dev.kiln.core.NetworkAllowEntry;
import dev.kiln.core.NetworkPolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Runs a layer build's commands (pip) in the build sandbox ({@link LayerBuildCommand}) inside a fresh cgroup under
 * Kiln's parent (named {@code layer-build-*}), with the build limits: memory, pids, CPU and a wall timeout. Output
 * (stdout and stderr interleaved) goes line by line to the build log. Afterwards everything the sandbox user wrote
 * becomes Kiln's.
 */
final class LayerBuildSandbox {
    private static final Logger log = LoggerFactory.getLogger(LayerBuildSandbox.class);
    static final String CGROUP_PREFIX = "layer-build-";
    private static final Duration CLEANUP_TIMEOUT = Duration.ofSeconds(10);
    private static final Map<String, String> SPAWN_ENV = Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    private static final int ERROR_LINES = 5;

    private final Cgroups cgroups;
    private final LayerBuildCommand command;
    private final PipSources sources;
    private final LayerBuildLimits limits;
    private final boolean privileged;
    private final SandboxUids uids;
    private final UserNetwork network;
    private final Set<Cgroup> active = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    LayerBuildSandbox(BwrapConfig config, Cgroups cgroups, PipSources sources, LayerBuildLimits limits,
                      boolean privileged, SandboxUids uids) {
        this.uids = uids;
        this.cgroups = cgroups;
        this.command = new LayerBuildCommand(config);
        this.sources = sources;
        this.limits = limits;
        this.privileged = privileged;
        this.network = new UserNetwork(config.setpriv(), privileged);
    }

    /** The index hosts of {@code sources}: reachable from the build even when private (a mirror on the LAN). */
    static List<NetworkAllowEntry> indexHosts(PipSources sources) {
        List<String> urls = new java.util.ArrayList<>();
        if (sources.indexUrl() != null) urls.add(sources.indexUrl());
        urls.addAll(sources.extraIndexUrls());
        List<NetworkAllowEntry> out = new java.util.ArrayList<>();
        for (String url : urls) {
            try {
                java.net.URI u = java.net.URI.create(url);
                if (u.getHost() == null) continue;
                int port = u.getPort() > 0 ? u.getPort() : "http".equalsIgnoreCase(u.getScheme()) ? 80 : 443;
                out.add(NetworkAllowEntry.parse(u.getHost() + ":" + port));
            } catch (IllegalArgumentException e) {
                log.warn("index URL host not usable for the build network: {}", e.getMessage());
            }
        }
        return out;
    }

    /** Kills and removes the build cgroups a crashed run left. */
    void removeStale() {
        for (String name : cgroups.children()) {
            if (!name.startsWith(CGROUP_PREFIX)) continue;
            Cgroup g = cgroups.existing(name);
            if (g.killAndAwaitEmpty(CLEANUP_TIMEOUT)) {
                try {
                    g.remove();
                } catch (IOException e) {
                    log.warn("cannot remove stale build cgroup {}: {}", name, e.toString());
                }
            }
        }
    }

    /** Refuses new runs and kills the running ones (they return an error). */
    void close() {
        closed = true;
        active.forEach(Cgroup::signalKill);
    }

    /**
     * {@code staging/tmp} (created), {@code site} (existing), {@code staging/etc} with the sandbox's passwd and group;
     * {@link #run} gives site and tmp to the build's uid.
     */
    LayerBuildCommand.Dirs prepare(Path staging, Path site) throws IOException {
        Path tmp = staging.resolve("tmp");
        Path etc = staging.resolve("etc");
        LayerFiles.mkdir(tmp);
        LayerFiles.mkdir(etc);
        Files.writeString(etc.resolve("passwd"), WorkDirLayout.PASSWD, StandardCharsets.US_ASCII);
        Files.writeString(etc.resolve("group"), WorkDirLayout.GROUP, StandardCharsets.US_ASCII);
        Files.setPosixFilePermissions(etc.resolve("passwd"), WorkDirLayout.FILE_644);
        Files.setPosixFilePermissions(etc.resolve("group"), WorkDirLayout.FILE_644);
        return new LayerBuildCommand.Dirs(site, tmp, etc);
    }

    /**
     * Runs {@code command} in the build sandbox in a fresh cgroup under Kiln's parent; its output goes to
     * {@code buildLog}. Returns null when it exited 0, else what went wrong.
     */
    String run(LayerBuildCommand.Dirs dirs, List<String> command, BuildLog buildLog, String what) {
        SandboxUids.Lease uid;
        try {
            uid = uids.lease();
            if (uid.uid() >= 0) {
                for (Path d : List.of(dirs.site(), dirs.tmp())) {
                    Files.setAttribute(d, "unix:uid", uid.uid(), LinkOption.NOFOLLOW_LINKS);
                    Files.setAttribute(d, "unix:gid", uid.uid(), LinkOption.NOFOLLOW_LINKS);
                }
            }
        } catch (IOException e) {
            return "cannot give the build its uid: " + e.getMessage();
        }
        boolean[] processesGone = {true};
        try {
            return runAs(uid.uid(), dirs, command, buildLog, what, processesGone);
        } finally {
            uid.release(processesGone[0]);
        }
    }

    private String runAs(int hostUid, LayerBuildCommand.Dirs dirs, List<String> command, BuildLog buildLog,
                         String what, boolean[] processesGone) {
        Cgroup cgroup;
        try {
            cgroup = cgroups.create(CGROUP_PREFIX + UUID.randomUUID().toString().substring(0, 8), limits.cgroupLimits());
        } catch (IOException | RuntimeException e) {
            return "cannot create the build cgroup: " + e;
        }
        active.add(cgroup);
        boolean empty = false;
        processesGone[0] = false;
        try {
            if (closed) return what + " not started: the layer store is closing";
            UserNetwork.Setup network = null;
            if (sources.needsNetwork()) {
                try {
                    network = this.network.prepare(NetworkPolicy.OPEN, indexHosts(sources), dirs.etc());
                } catch (IOException e) {
                    return "cannot give the build sandbox its network: " + e.getMessage();
                }
            }
            List<String> argv = this.command.build(dirs, cgroup.procsFiles(), hostUid, sources, network, command,
                    limits.pidsMax());
            ProcessBuilder pb = new ProcessBuilder(argv).directory(new File("/")).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().clear();
            pb.environment().putAll(SPAWN_ENV);
            Process process;
            try {
                process = Spawner.start(pb);
            } catch (IOException e) {
                return "cannot start bwrap: " + e.getMessage();
            }
            Thread reader = Thread.ofVirtual().name("layer-build-log").start(() -> buildLog.pump(process.getInputStream()));
            boolean interrupted = false;
            boolean exited;
            try {
                exited = process.waitFor(limits.timeout().toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                interrupted = true;
                exited = false;
            }
            if (!exited) {
                cgroup.signalKill();
                process.destroyForcibly();
            }
            interrupted |= HostCommand.awaitUninterruptibly(process);
            empty = cgroup.killAndAwaitEmpty(CLEANUP_TIMEOUT);
            CgroupStats stats = cgroup.stats();
            try {
                if (!reader.join(Duration.ofSeconds(5))) process.getInputStream().close();
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (IOException e) {
                // closing the pipe to stop the reader
            }
            if (interrupted) Thread.currentThread().interrupt();
            int exit = process.exitValue();
            if (closed) return what + " was stopped: the layer store is closing";
            if (interrupted) return what + " was interrupted";
            if (!exited) return what + " did not finish within " + limits.timeout().toSeconds() + " s";
            if (!empty) return "could not kill every process of the build within " + CLEANUP_TIMEOUT.toSeconds() + " s";
            if (stats.oomKills() > 0) {
                return what + " exceeded the build memory limit of " + ByteSize.format(limits.memoryBytes());
            }
            if (exit == 0) return null;
            List<String> tail = buildLog.tail().stream().filter(l -> !l.startsWith("[kiln]")).toList();
            String setup = ResultClassifier.setupFailure(exit, String.join("\n", tail));
            if (setup != null) return setup;
            return what + " failed (exit code " + exit + "): " + lastLines(tail);
        } finally {
            cgroup.dispose(empty, CLEANUP_TIMEOUT);
            active.remove(cgroup);
            processesGone[0] = empty;
        }
    }

    /** pip's own "ERROR:" lines when it printed some, else its last few lines. */
    static String lastLines(List<String> lines) {
        List<String> nonEmpty = lines.stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
        List<String> errors = nonEmpty.stream().filter(s -> s.startsWith("ERROR:")).toList();
        List<String> chosen = errors.isEmpty() ? nonEmpty : errors;
        chosen = chosen.subList(Math.max(0, chosen.size() - ERROR_LINES), chosen.size());
        String text = chosen.isEmpty() ? "(no output)" : String.join("\n", chosen);
        return text.length() > 2000 ? text.substring(text.length() - 2000) : text;
    }


    /**
     * After pip (its sandbox is gone): everything becomes Kiln's and read-only for others — directories 0755, files
     * 0644 or 0755, no set-id bits — and anything but files, directories and symlinks is removed. Nothing is followed.
     */
    void finishSite(Path site, BuildLog buildLog) throws IOException {
        Files.walkFileTree(site, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                own(dir);
                Files.setPosixFilePermissions(dir, WorkDirLayout.DIR_755);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isSymbolicLink()) {
                    own(file);
                } else if (attrs.isRegularFile()) {
                    own(file);
                    boolean exec = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS)
                            .contains(PosixFilePermission.OWNER_EXECUTE);
                    Files.setPosixFilePermissions(file, exec ? WorkDirLayout.DIR_755 : WorkDirLayout.FILE_644);
                } else {
                    buildLog.line("[kiln] removed special file " + site.relativize(file));
                    Files.delete(file);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private void own(Path p) throws IOException {
        if (!privileged) return;
        Files.setAttribute(p, "unix:uid", 0, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", 0, LinkOption.NOFOLLOW_LINKS);
    }

}
