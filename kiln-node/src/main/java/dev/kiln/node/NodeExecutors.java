package dev.kiln.node;

import dev.kiln.core.Executor;
import dev.kiln.sandbox.BwrapConfig;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.GvisorExecutor;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.NoopExecutor;
import dev.kiln.sandbox.PipSources;
import dev.kiln.sandbox.SandboxUidRange;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executors a node offers (noop always; bwrap when the machine can run it; gvisor when asked for) and the layer store bwrap mounts
 * job-type layers from. {@code layers} and {@code bwrap} are null without bwrap. The executors are closed by the
 * {@link LocalComputeNode} that runs them; {@code layers} is closed by whoever created this.
 */
public record NodeExecutors(Map<String, Executor> executors, LayerStore layers, BwrapExecutor bwrap) {
    private static final Logger log = LoggerFactory.getLogger(NodeExecutors.class);

    public NodeExecutors {
        executors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(executors));
    }

    /** Only the noop executor, no layers: for nodes that run nothing for real (tests, load tests). */
    public static NodeExecutors noopOnly() {
        return new NodeExecutors(Map.of(NoopExecutor.NAME, new NoopExecutor()), null, null);
    }

    /**
     * The server's sandbox settings as a {@link BwrapConfig}: the given bwrap binary, interpreter and cgroup parent,
     * the Debian defaults for the rest.
     */
    public static BwrapConfig bwrapConfig(Path bwrap, Path python, String cgroupParent) {
        return bwrapConfig(bwrap, python, cgroupParent, SandboxUidRange.DEFAULT);
    }

    /** Also the host uids sandboxes run as (one per live sandbox, when Kiln is root). */
    public static BwrapConfig bwrapConfig(Path bwrap, Path python, String cgroupParent, SandboxUidRange uidRange) {
        BwrapConfig d = BwrapConfig.defaults();
        return new BwrapConfig(bwrap, d.setpriv(), python, d.mount(), d.umount(), d.cgroupRoot(), cgroupParent,
                uidRange);
    }

    /**
     * Noop, plus bwrap when it can be set up here.
     *
     * @param bwrapRequired when true a machine that cannot run bwrap is an error (the default executor or a job type
     *                      names it); when false it is logged and the node offers noop only
     * @param layerRoot     where layers live; with {@code warmRoot} it must be reachable by the sandbox user
     *                      (see {@link WorkRoots})
     * @throws RuntimeException (from bwrap's set-up) when bwrap is required and unavailable
     */
    public static NodeExecutors create(boolean bwrapRequired, BwrapConfig bwrapConfig, PipSources pip,
                                       Path layerRoot, Path warmRoot) {
        return create(bwrapRequired, false, bwrapConfig, pip, layerRoot, warmRoot);
    }

    /**
     * Like {@link #create(boolean, BwrapConfig, PipSources, Path, Path)}, and with {@code gvisorRequired} the gVisor
     * executor too (on bwrap's layers when bwrap is there); a machine that cannot run it is an error naming the
     * package to install. Without it no gVisor executor is made (its platform probe costs up to 4 s).
     */
    public static NodeExecutors create(boolean bwrapRequired, boolean gvisorRequired, BwrapConfig bwrapConfig,
                                       PipSources pip, Path layerRoot, Path warmRoot) {
        Map<String, Executor> executors = new LinkedHashMap<>();
        executors.put(NoopExecutor.NAME, new NoopExecutor());
        LayerStore layers = null;
        BwrapExecutor bwrap = null;
        try {
            layers = new LayerStore(layerRoot, bwrapConfig, pip);
            bwrap = new BwrapExecutor(bwrapConfig, layers, warmRoot);
            executors.put(BwrapExecutor.NAME, bwrap);
        } catch (RuntimeException e) {
            if (layers != null) layers.close();
            if (bwrapRequired) throw e;
            log.info("bwrap executor unavailable ({}); running with noop only", e.getMessage());
            layers = null;
        }
        if (gvisorRequired) {
            try {
                executors.put(GvisorExecutor.NAME, new GvisorExecutor(bwrapConfig, layers));
            } catch (RuntimeException e) {
                executors.values().forEach(Executor::close);
                if (layers != null) layers.close();
                throw e;
            }
        }
        return new NodeExecutors(executors, layers, bwrap);
    }
}
