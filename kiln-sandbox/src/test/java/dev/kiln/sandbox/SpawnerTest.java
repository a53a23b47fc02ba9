package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

class SpawnerTest {
    private static final List<String> DIES_WITH_PARENT = List.of("/usr/bin/bwrap", "--dev-bind", "/", "/",
            "--die-with-parent", "sleep", "30");

    private static Process startFromShortLivedThread(boolean viaSpawner) throws Exception {
        AtomicReference<Process> p = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                ProcessBuilder pb = new ProcessBuilder(DIES_WITH_PARENT);
                p.set(viaSpawner ? Spawner.start(pb) : pb.start());
                Thread.sleep(300); // bwrap sets PR_SET_PDEATHSIG early in its start-up; the thread ends after that
            } catch (Exception e) {
                failure.set(e);
            }
        });
        t.join();
        if (failure.get() != null) throw failure.get();
        return p.get();
    }

    /** --die-with-parent is PR_SET_PDEATHSIG: it follows the forking thread, which the spawner never ends. */
    @Test
    void sandboxesOutliveTheThreadThatAskedForThem() throws Exception {
        SandboxTestSupport.assumeSandboxUsable();
        Process direct = startFromShortLivedThread(false);
        Process spawned = startFromShortLivedThread(true);
        try {
            assertThat(direct.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).as("killed with its thread").isTrue();
            Thread.sleep(200);
            assertThat(spawned.isAlive()).isTrue();
        } finally {
            direct.destroyForcibly();
            spawned.destroyForcibly();
            spawned.waitFor();
        }
    }
}
