package dev.kiln.cli;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.server.KilnServer;
import dev.kiln.server.config.KilnConfig;
import java.io.PrintWriter;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmarks on this machine, each against a fresh in-process Kiln on loopback:",
                "  noop jobs/s end-to-end over HTTP (POST /execute, durable embedded store) with N clients;",
                "  cold sandboxed print(1+1) latency p50/p99 (bwrap executor, one job at a time)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--clients", defaultValue = "8", description = "Concurrent HTTP clients (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--jobs", defaultValue = "5000", description = "Noop jobs to run (default ${DEFAULT-VALUE})")
    int jobs;

    @Option(names = "--python-runs", defaultValue = "100",
            description = "Sandboxed print(1+1) runs (default ${DEFAULT-VALUE}; 0 skips)")
    int pythonRuns;

    @Option(names = "--json", description = "Print JSON instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("machine", Runtime.getRuntime().availableProcessors() + " cores, Java "
                + Runtime.version().feature());
        noop(figures);
        if (pythonRuns > 0) python(figures);
        if (json) {
            JobPrinter.json(out, figures);
        } else {
            out.println("Kiln bench (" + figures.get("machine") + ")");
            figures.forEach((k, v) -> { if (!k.equals("machine")) out.printf("  %-34s %s%n", k, v); });
            out.flush();
        }
        return 0;
    }

    private void noop(Map<String, Object> figures) throws Exception {
        Path data = Files.createTempDirectory("kiln-bench-");
        KilnConfig config = KilnConfig.defaults().withDataDir(data).withExecutor("noop").withHost("127.0.0.1")
                .withPort(0).withSlots(64).withMaxQueueSize(1_000_000);
        try (KilnServer server = KilnServer.start(config)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();
            KilnClient client = new KilnClient(server.baseUrl(), http);
            JobRequest job = JobRequest.python("pass");
            for (int i = 0; i < Math.min(200, jobs); i++) client.execute(job); // warm-up: JIT, connections
            long[] latencies = new long[jobs];
            AtomicInteger next = new AtomicInteger();
            AtomicLong failures = new AtomicLong();
            long start = System.nanoTime();
            Thread[] workers = new Thread[clients];
            for (int c = 0; c < clients; c++) {
                workers[c] = Thread.ofVirtual().start(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < jobs) {
                        long t0 = System.nanoTime();
                        JobResponse r = client.execute(job);
                        latencies[i] = System.nanoTime() - t0;
                        if (!r.success()) failures.incrementAndGet();
                    }
                });
            }
            for (Thread w : workers) w.join();
            double seconds = (System.nanoTime() - start) / 1e9;
            Percentiles p = new Percentiles(latencies);
            figures.put("noop jobs/s (" + clients + " clients)", String.format("%.0f", jobs / seconds));
            figures.put("noop latency p50 / p99 ms", String.format("%.2f / %.2f", p.millis(50), p.millis(99)));
            figures.put("noop jobs ok / failed", (jobs - failures.get()) + " / " + failures.get());
        } finally {
            deleteTree(data);
        }
    }

    private void python(Map<String, Object> figures) throws Exception {
        Path data = Files.createTempDirectory("kiln-bench-");
        KilnConfig config = KilnConfig.defaults().withDataDir(data).withExecutor("bwrap").withHost("127.0.0.1")
                .withPort(0);
        try (KilnServer server = KilnServer.start(config)) {
            KilnClient client = new KilnClient(server.baseUrl());
            JobRequest job = JobRequest.python("print(1+1)");
            for (int i = 0; i < 5; i++) client.execute(job);
            long[] latencies = new long[pythonRuns];
            long startupTotal = 0;
            for (int i = 0; i < pythonRuns; i++) {
                long t0 = System.nanoTime();
                JobResponse r = client.execute(job);
                latencies[i] = System.nanoTime() - t0;
                if (!r.success() || !r.stdout().equals("2\n")) {
                    throw new IllegalStateException("sandboxed print(1+1) failed: " + r.status() + " " + r.error());
                }
                startupTotal += r.timing().startupMs() + r.timing().executionMs();
            }
            Percentiles p = new Percentiles(latencies);
            figures.put("cold python print(1+1) p50 / p99 ms",
                    String.format("%.1f / %.1f", p.millis(50), p.millis(99)));
            figures.put("  of which sandbox (mean ms)", String.format("%.1f", startupTotal / (double) pythonRuns));
        } catch (RuntimeException e) {
            figures.put("cold python print(1+1)", "skipped: " + e.getMessage());
        } finally {
            deleteTree(data);
        }
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        try (var paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

}
