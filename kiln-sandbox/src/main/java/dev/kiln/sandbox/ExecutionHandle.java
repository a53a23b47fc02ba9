package dev.kiln.sandbox;

import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * The cancel side of one execution. A cancel may arrive before the cgroup exists, between cgroup and spawn, or while
 * the job runs; the handle remembers it in every case, and spawning happens under its lock so a cancel is either
 * seen before the spawn (the job never starts) or kills the spawned process.
 */
final class ExecutionHandle {
    private boolean cancelled;
    private Cgroup cgroup;
    private Process process;
    private volatile boolean interrupted;
    private final long createdNanos = System.nanoTime();
    private final dev.kiln.core.OutputSink live;

    ExecutionHandle() {
        this(dev.kiln.core.OutputSink.NONE);
    }

    ExecutionHandle(dev.kiln.core.OutputSink live) {
        this.live = live;
    }

    /** Where the job's output goes while it runs. */
    dev.kiln.core.OutputSink live() {
        return live;
    }

    static ExecutionHandle cancelledBeforeStart() {
        ExecutionHandle h = new ExecutionHandle();
        h.cancelled = true;
        return h;
    }

    synchronized boolean isCancelled() {
        return cancelled;
    }

    synchronized boolean isStarted() {
        return process != null;
    }

    /** True once the execution owns a cgroup; it stays in the executor's table until it has removed it. */
    synchronized boolean holdsCgroup() {
        return cgroup != null;
    }

    void markInterrupted() {
        interrupted = true;
    }

    boolean wasInterrupted() {
        return interrupted;
    }

    long ageNanos() {
        return System.nanoTime() - createdNanos;
    }

    /** @return false when already cancelled */
    synchronized boolean attach(Cgroup group) {
        this.cgroup = group;
        return !cancelled;
    }

    /** Spawns under the lock; returns null (and spawns nothing) when cancelled. */
    synchronized Process spawn(Callable<Process> starter) throws IOException {
        if (cancelled) return null;
        try {
            process = starter.call();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
        return process;
    }

    /** Kills without waiting: the executing thread reaps and cleans up. */
    void cancel() {
        Cgroup c;
        Process p;
        synchronized (this) {
            cancelled = true;
            c = cgroup;
            p = process;
        }
        if (p != null) p.destroyForcibly();
        if (c != null) c.signalKill();
    }
}
