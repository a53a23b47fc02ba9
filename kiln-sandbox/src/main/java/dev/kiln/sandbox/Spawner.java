package dev.kiln.sandbox;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Starts every sandbox process from one long-lived platform thread.
 * <p>
 * bubblewrap's {@code --die-with-parent} is {@code PR_SET_PDEATHSIG}, which fires when the <em>thread</em> that
 * forked the process ends, not the JVM. A sandbox started directly from a virtual thread is forked by its carrier,
 * and carriers retire after about 30 s without work: a job running longer than that could be SIGKILLed although
 * Kiln is alive (seen on this host with a plain {@code bwrap --die-with-parent sleep 90}). A pre-spawned warm
 * sandbox outlives the thread that asked for it by design. Forking from this thread, which never ends while the JVM
 * runs, keeps {@code --die-with-parent} meaning "Kiln died".
 */
final class Spawner {
    private static final LinkedBlockingQueue<Request> QUEUE = new LinkedBlockingQueue<>();

    static {
        Thread t = Thread.ofPlatform().daemon().name("kiln-sandbox-spawner").unstarted(Spawner::loop);
        t.start();
    }

    private record Request(ProcessBuilder builder, CompletableFuture<Process> result) {
    }

    private Spawner() {
    }

    private static void loop() {
        while (true) {
            Request r;
            try {
                r = QUEUE.take();
            } catch (InterruptedException e) {
                continue; // this thread must not end
            }
            try {
                r.result.complete(r.builder.start());
            } catch (Throwable e) {
                r.result.completeExceptionally(e);
            }
        }
    }

    /**
     * {@link ProcessBuilder#start()} on the spawner thread. Waits for it even when interrupted (a started process
     * must reach its owner), then restores the interrupt flag.
     */
    static Process start(ProcessBuilder builder) throws IOException {
        CompletableFuture<Process> result = new CompletableFuture<>();
        QUEUE.add(new Request(builder, result));
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return result.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof IOException io) throw io;
                    if (cause instanceof RuntimeException re) throw re;
                    if (cause instanceof Error err) throw err;
                    throw new IOException(cause);
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }
}
