package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The runsc command lines of one sandbox. Global flags: a state root of the execution's own ({@code --root}), no
 * network ({@code --network=none}: only a loopback inside the sandbox), cgroups left to Kiln
 * ({@code --ignore-cgroups}: runsc runs inside the execution's cgroup, so the sentry, the gofer and the ptrace stubs
 * are all counted and killed with it), and the detected platform.
 */
final class RunscCommand {
    private final Path runsc;
    private final Path stateRoot;
    private final String platform;

    RunscCommand(Path runsc, Path stateRoot, String platform) {
        this.runsc = runsc;
        this.stateRoot = stateRoot;
        this.platform = platform;
    }

    List<String> globalFlags() {
        return new ArrayList<>(List.of(runsc.toString(), "--root=" + stateRoot, "--network=none", "--ignore-cgroups",
                "--platform=" + platform));
    }

    /** Creates, starts and waits for the container; exits with the job's exit code. */
    List<String> run(Path bundle, String containerId) {
        List<String> argv = globalFlags();
        argv.addAll(List.of("run", "--bundle=" + bundle, containerId));
        return argv;
    }

    /** Removes the container's state (and kills what is left of it); harmless when it never existed. */
    List<String> deleteForce(String containerId) {
        List<String> argv = globalFlags();
        argv.addAll(List.of("delete", "--force", containerId));
        return argv;
    }

    /**
     * {@code /bin/sh -c <join cgroups, then exec> sh <n> <procs...> python <relay> runsc ... run ...} (see
     * {@link StdioRelay} for why runsc's output goes through a relay).
     */
    List<String> runInCgroup(List<Path> procsFiles, Path relayPython, Path bundle, String containerId) {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", BwrapCommand.JOIN_ONLY, "sh",
                Integer.toString(procsFiles.size())));
        for (Path p : procsFiles) argv.add(p.toString());
        argv.addAll(StdioRelay.wrap(relayPython, run(bundle, containerId)));
        return argv;
    }
}
