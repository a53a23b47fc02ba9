package dev.kiln.cli.bench;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/** Runs {@code total} calls spread over {@code clients} virtual threads; records each call's latency. */
final class LoadRun {
    final long[] latencies;
    final long failures;
    final double seconds;

    private LoadRun(long[] latencies, long failures, double seconds) {
        this.latencies = latencies;
        this.failures = failures;
        this.seconds = seconds;
    }

    /** {@code call} returns whether the call succeeded; an exception counts as a failure. */
    static LoadRun run(int total, int clients, BooleanSupplier call) throws InterruptedException {
        long[] latencies = new long[total];
        AtomicInteger next = new AtomicInteger();
        AtomicLong failures = new AtomicLong();
        long start = System.nanoTime();
        Thread[] workers = new Thread[clients];
        for (int c = 0; c < clients; c++) {
            workers[c] = Thread.ofVirtual().start(() -> {
                int i;
                while ((i = next.getAndIncrement()) < total) {
                    long t0 = System.nanoTime();
                    boolean ok;
                    try {
                        ok = call.getAsBoolean();
                    } catch (RuntimeException e) {
                        ok = false;
                    }
                    latencies[i] = System.nanoTime() - t0;
                    if (!ok) failures.incrementAndGet();
                }
            });
        }
        for (Thread w : workers) w.join();
        return new LoadRun(latencies, failures.get(), (System.nanoTime() - start) / 1e9);
    }

    double perSecond() {
        return latencies.length / seconds;
    }

    Percentiles percentiles() {
        return new Percentiles(latencies);
    }
}
