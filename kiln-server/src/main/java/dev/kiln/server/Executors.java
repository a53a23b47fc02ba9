package dev.kiln.server;

import dev.kiln.core.Executor;
import dev.kiln.sandbox.BwrapConfig;
import dev.kiln.sandbox.BwrapExecutor;
import dev.kiln.sandbox.NoopExecutor;
import dev.kiln.server.config.KilnConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds the executors a node offers: noop always; bwrap when the machine can run it. */
final class Executors {
    private static final Logger log = LoggerFactory.getLogger(Executors.class);

    private Executors() {
    }

    static Map<String, Executor> create(KilnConfig config) {
        Map<String, Executor> executors = new LinkedHashMap<>();
        executors.put("noop", new NoopExecutor());
        boolean bwrapWanted = config.executor().equals("bwrap")
                || config.jobTypes().stream().anyMatch(t -> "bwrap".equals(t.executor()));
        try {
            BwrapConfig d = BwrapConfig.defaults();
            executors.put("bwrap", new BwrapExecutor(new BwrapConfig(Path.of(config.sandbox().bwrap()), d.setpriv(),
                    Path.of(config.sandbox().python()), d.mount(), d.umount(), d.cgroupRoot(),
                    config.sandbox().cgroupParent())));
        } catch (RuntimeException e) {
            if (bwrapWanted) throw e;
            log.info("bwrap executor unavailable ({}); running with noop only", e.getMessage());
        }
        return executors;
    }
}
