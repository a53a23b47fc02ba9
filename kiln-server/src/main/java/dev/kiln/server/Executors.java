package dev.kiln.server;

import dev.kiln.core.Executor;
import dev.kiln.sandbox.BwrapConfig;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.LayerStore;
import dev.kiln.sandbox.NoopExecutor;
import dev.kiln.sandbox.PipSources;
import dev.kiln.server.config.KilnConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The executors a node offers (noop always; bwrap when the machine can run it) and the layer store bwrap mounts
 * job-type layers from ({@code layers} is null without bwrap).
 */
record Executors(Map<String, Executor> executors, LayerStore layers, BwrapExecutor bwrap) {
    private static final Logger log = LoggerFactory.getLogger(Executors.class);

    /** An orchestrator without a node of its own. */
    static Executors none() {
        return new Executors(Map.of("noop", new NoopExecutor()), null, null);
    }

    /** {@code layerRoot} and {@code warmRoot} must be reachable by the sandbox user (see WorkRoots). */
    static Executors create(KilnConfig config, Path layerRoot, Path warmRoot) {
        Map<String, Executor> executors = new LinkedHashMap<>();
        executors.put("noop", new NoopExecutor());
        boolean bwrapWanted = config.executor().equals("bwrap")
                || config.jobTypes().stream().anyMatch(t -> "bwrap".equals(t.executor()));
        LayerStore layers = null;
        BwrapExecutor executor = null;
        try {
            BwrapConfig d = BwrapConfig.defaults();
            BwrapConfig bwrap = new BwrapConfig(Path.of(config.sandbox().bwrap()), d.setpriv(),
                    Path.of(config.sandbox().python()), d.mount(), d.umount(), d.cgroupRoot(),
                    config.sandbox().cgroupParent());
            var pip = config.pip();
            layers = new LayerStore(layerRoot, bwrap,
                    new PipSources(pip.indexUrl(), pip.extraIndexUrls(), pip.findLinks(), pip.noIndex()));
            executor = new BwrapExecutor(bwrap, layers, warmRoot);
            executors.put("bwrap", executor);
        } catch (RuntimeException e) {
            if (layers != null) layers.close();
            if (bwrapWanted) throw e;
            log.info("bwrap executor unavailable ({}); running with noop only", e.getMessage());
            layers = null;
        }
        return new Executors(executors, layers, executor);
    }
}
