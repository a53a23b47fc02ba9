package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobSpec;
import dev.kiln.core.JobStatus;
import dev.kiln.core.JobType;
import dev.kiln.core.OutputLimits;
import dev.kiln.core.PackageSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Warm pools with real bubblewrap sandboxes in real cgroups. */
class WarmPoolsTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path temp;

    private String parent;
    private Path warmRoot;
    private BwrapExecutor executor;
    private int runs;

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        warmRoot = temp.resolve("warm");
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(parent), null, warmRoot);
    }

    @AfterEach
    void tearDown() throws IOException {
        if (executor == null) return;
        executor.close();
        assertNothingLeft();
    }

    private void assertNothingLeft() throws IOException {
        Path root = BwrapConfig.defaults().cgroupRoot();
        for (Path p : List.of(root.resolve(parent), root.resolve("memory").resolve(parent), root.resolve("pids").resolve(parent),
                root.resolve("cpu").resolve(parent), root.resolve("freezer").resolve(parent))) {
            assertThat(p).as("parent cgroup removed").doesNotExist();
        }
        try (var entries = Files.list(warmRoot)) {
            assertThat(entries.toList()).as("warm sandbox dirs left").isEmpty();
        }
        assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).as("mounts left")
                .doesNotContain(temp.toRealPath().toString());
        assertThat(processesWithMarker(warmRoot.toString())).as("sandbox processes left").isEmpty();
    }

    // ---------------------------------------------------------------- helpers

    private static JobType type(String name) {
        return JobType.defaults(name);
    }

    private static String newId() {
        return "job" + UUID.randomUUID().toString().substring(0, 8) + "-1";
    }

    private ExecutionResult run(JobType type, JobSpec spec, int timeout, OutputLimits limits) throws IOException {
        return run(type, null, spec, timeout, limits);
    }

    private ExecutionResult run(JobType type, String digest, JobSpec spec, int timeout, OutputLimits limits)
            throws IOException {
        String id = newId();
        Path workDir = Files.createDirectory(temp.resolve("work-" + (++runs)));
        ExecutionRequest req = new ExecutionRequest(id, id.replaceAll("-\\d+$", ""), 1, spec, type, timeout, limits,
                digest);
        return executor.execute(req, workDir);
    }

    private ExecutionResult run(JobType type, String code) throws IOException {
        return run(type, JobSpec.python(code), 10, OutputLimits.DEFAULTS);
    }

    private WarmPoolStats stats(String type) {
        return executor.poolStats().stream().filter(s -> s.jobType().equals(type)).findFirst().orElseThrow();
    }

    private void awaitReady(String type, int n) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).until(() -> stats(type).ready() >= n);
    }

    private List<WarmSandbox> readySandboxes(String type) {
        return executor.pools().ready(type);
    }

    private static String describe(ExecutionResult r) {
        return "status=" + r.status() + " exit=" + r.exitCode() + " error=" + r.error() + "\nstdout=" + abbreviate(r.stdout())
                + "\nstderr=" + abbreviate(r.stderr());
    }

    private static String abbreviate(String s) {
        return s.length() > 3000 ? s.substring(0, 3000) + "..." : s;
    }

    /** Everything of a result that must not depend on warm or cold (not timings, not where artifacts were copied). */
    private static Map<String, Object> observable(ExecutionResult r) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", r.status());
        m.put("exitCode", r.exitCode());
        m.put("stdout", r.stdout());
        m.put("stderr", r.stderr());
        m.put("stdoutTruncated", r.stdoutTruncated());
        m.put("stderrTruncated", r.stderrTruncated());
        m.put("outputJson", r.outputJson());
        m.put("error", r.error());
        List<String> artifacts = new ArrayList<>();
        for (CollectedArtifact a : r.artifacts()) {
            artifacts.add(a.name() + " " + a.size() + " " + a.sha256() + " " + HexFormat.of().formatHex(Files.readAllBytes(a.file())));
        }
        m.put("artifacts", artifacts);
        return m;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void hitsMissesAndRedefinitionsAreCounted() throws IOException {
        JobType t = type("t");
        executor.configurePool(t, null, PoolSettings.of(1));
        // right after configuring, nothing is ready yet: a miss, served cold
        ExecutionResult cold = run(t, "print('cold')");
        assertThat(cold.stdout()).as(describe(cold)).isEqualTo("cold\n");
        assertThat(stats("t").misses()).isEqualTo(1);
        assertThat(stats("t").hits()).isZero();

        awaitReady("t", 1);
        ExecutionResult warm = run(t, "print('warm')");
        assertThat(warm.status()).as(describe(warm)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(warm.stdout()).isEqualTo("warm\n");
        assertThat(stats("t").hits()).isEqualTo(1);
        assertThat(stats("t").refills()).isGreaterThanOrEqualTo(1);
        assertThat(stats("t").refillMillisTotal()).isPositive();

        // a request with a different definition of the type is a miss, whatever is ready
        awaitReady("t", 1);
        JobType redefined = new JobType("t", 256L << 20, 1.0, 30, 300, 64, false, Map.of(), null,
                JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE);
        assertThat(run(redefined, "print(1)").stdout()).isEqualTo("1\n");
        assertThat(stats("t").misses()).isEqualTo(2);
        assertThat(stats("t").hits()).isEqualTo(1);

        // redefining the pool drains the old sandbox; the new definition is served warm
        String old = readySandboxes("t").getFirst().id();
        executor.configurePool(redefined, null, PoolSettings.of(1));
        await().atMost(WAIT).until(() -> !Files.exists(warmRoot.resolve(old)));
        awaitReady("t", 1);
        assertThat(run(redefined, "print(2)").stdout()).isEqualTo("2\n");
        assertThat(stats("t").hits()).isEqualTo(2);
        assertThat(stats("t").size()).isEqualTo(1);

        // size 0 removes the pool; counters stay
        executor.configurePool(redefined, null, PoolSettings.DISABLED);
        assertThat(stats("t").size()).isZero();
        assertThat(stats("t").hits()).isEqualTo(2);
        assertThat(run(redefined, "print(3)").stdout()).isEqualTo("3\n");
        assertThat(stats("t").misses()).isEqualTo(2); // no pool, no miss
    }

    @Test
    void aPooledSandboxKilledExternallyIsReplacedAndJobsStillRun() throws Exception {
        JobType t = type("t");
        executor.configurePool(t, null, PoolSettings.of(1));
        awaitReady("t", 1);
        WarmSandbox victim = readySandboxes("t").getFirst();
        killAll(victim.cgroup());

        await().atMost(WAIT).until(() -> stats("t").discards() == 1 && stats("t").ready() == 1
                && !readySandboxes("t").getFirst().id().equals(victim.id()));
        ExecutionResult r = run(t, "print('after kill')");
        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("after kill\n");
        assertThat(stats("t").hits()).isEqualTo(1);

        // The interpreter dies while bubblewrap has not exited yet (stopped here to hold that state): the sandbox
        // looks alive, the go signal finds no reader, the sandbox is discarded and the job starts cold.
        awaitReady("t", 1);
        WarmSandbox halfDead = readySandboxes("t").getFirst();
        long misses = stats("t").misses();
        List<Long> pids = CgroupFiles.readPids(halfDead.cgroup().procsFiles().getFirst());
        long python = -1;
        for (long pid : pids) {
            String cmdline = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"));
            if (cmdline.startsWith("bwrap") || cmdline.contains("/bwrap")) {
                signal("-STOP", pid);
            } else if (cmdline.contains("python3")) {
                python = pid;
            }
        }
        assertThat(python).as("the interpreter among " + pids).isPositive();
        signal("-KILL", python);
        long dead = python;
        await().atMost(WAIT).until(() -> ProcessHandle.of(dead).isEmpty()
                || !SandboxTestSupport.isRunning(ProcessHandle.of(dead).get()));
        assertThat(halfDead.isAlive()).isTrue();

        ExecutionResult fallback = run(t, "print('cold after a dead warm sandbox')");

        assertThat(fallback.status()).as(describe(fallback)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(fallback.stdout()).isEqualTo("cold after a dead warm sandbox\n");
        assertThat(stats("t").discards()).isEqualTo(2);
        assertThat(stats("t").hits()).isEqualTo(1);
        assertThat(stats("t").misses()).isEqualTo(misses + 1);
        await().atMost(WAIT).until(() -> !Files.exists(warmRoot.resolve(halfDead.id())));
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", signal, Long.toString(pid)).start();
        assertThat(kill.waitFor()).isZero();
    }

    private static void killAll(Cgroup cgroup) {
        for (Path procs : cgroup.procsFiles()) {
            for (long pid : CgroupFiles.readPids(procs)) CgroupFiles.kill(pid);
        }
    }

    @Test
    void nothingOfOneJobIsVisibleToTheNext() throws IOException {
        JobType t = type("t");
        executor.configurePool(t, null, PoolSettings.of(1));
        String marker = "kiln-leak-marker-" + UUID.randomUUID();
        String first = """
                import os, subprocess, sys
                open('/tmp/x', 'w').write('secret')
                open('/output/left.txt', 'w').write('left')
                os.environ['LEAK'] = 'yes'
                subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # %s'], start_new_session=True)
                print('first', sorted(os.listdir('/input')))
                """.formatted(marker);
        awaitReady("t", 1);
        awaitProbe("t");
        ExecutionResult r1 = run(t, new JobSpec(first, null, Map.of("in.txt", "x".getBytes(StandardCharsets.UTF_8)),
                "t", null), 10, OutputLimits.DEFAULTS);
        assertThat(r1.status()).as(describe(r1)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r1.stdout()).isEqualTo("first ['in.txt']\n");
        assertThat(processesWithMarker(marker)).as("background process of job 1").isEmpty();

        String second = """
                import os
                print(os.path.exists('/tmp/x'), os.listdir('/tmp'), os.environ.get('LEAK'), os.listdir('/output'),
                      os.listdir('/input'))
                for p in sorted(p for p in os.listdir('/proc') if p.isdigit()):
                    print(p, open(f'/proc/{p}/cmdline', 'rb').read())
                """;
        awaitReady("t", 1);
        ExecutionResult r2 = run(t, second);
        assertThat(r2.status()).as(describe(r2)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r2.stdout()).startsWith("False [] None [] []\n").doesNotContain(marker);
        // bubblewrap's init and the interpreter: nothing else lives in the sandbox
        assertThat(r2.stdout().lines().skip(1).toList()).hasSize(2);
        assertThat(stats("t").hits()).isEqualTo(2);
        assertThat(processesWithMarker(marker)).isEmpty();
    }

    private record Program(String name, JobSpec spec, int timeout, OutputLimits limits, boolean eligible,
                           java.util.function.Consumer<ExecutionResult> check) {
        static Program of(String name, String code, java.util.function.Consumer<ExecutionResult> check) {
            return new Program(name, JobSpec.python(code), 10, OutputLimits.DEFAULTS, true, check);
        }
    }

    private static List<Program> programs() {
        Map<String, byte[]> files = Map.of(
                "helper.py", "def twice(x):\n    return 2 * x\n".getBytes(StandardCharsets.UTF_8),
                "sub/notes.txt", "hello notes".getBytes(StandardCharsets.UTF_8));
        String io = """
                import json, os, helper
                d = json.load(open('/input/data.json'))
                with open('/output/result.json', 'w') as f:
                    json.dump({'twice': helper.twice(d['a'])}, f)
                open('/output/sub.bin', 'wb').write(bytes(range(256)))
                print(open('sub/notes.txt').read(), sorted(os.listdir('/input')))
                """;
        String bigLiteral = "x = '" + "a".repeat(200_000) + "'\nprint(len(x))\n";
        return List.of(
                Program.of("print", "print(1 + 1)\n", r -> assertThat(r.stdout()).isEqualTo("2\n")),
                Program.of("exit 3", "import sys\nprint('before')\nsys.exit(3)\n", r -> assertThat(r.exitCode()).isEqualTo(3)),
                Program.of("exit msg", "import sys\nsys.exit('fatal: msg')\n", r -> {
                    assertThat(r.exitCode()).isEqualTo(1);
                    assertThat(r.stderr()).isEqualTo("fatal: msg\n");
                }),
                Program.of("os._exit", "import os\nprint('x', flush=True)\nos._exit(4)\n", r -> assertThat(r.exitCode()).isEqualTo(4)),
                Program.of("traceback", "def f():\n    g()\n\ndef g():\n    raise ValueError('boom')\n\nf()\n", r -> {
                    assertThat(r.stderr()).startsWith("Traceback (most recent call last):\n  File \"/code/main.py\", line 7, in <module>\n    f()\n")
                            .endsWith("ValueError: boom\n");
                    assertThat(r.error().type()).isEqualTo(ErrorType.RUNTIME_ERROR);
                }),
                Program.of("syntax error", "print('a'\n", r -> assertThat(r.error().type()).isEqualTo(ErrorType.SYNTAX_ERROR)),
                Program.of("indentation error", "if True:\nprint('x')\n", r -> {
                    assertThat(r.error().type()).isEqualTo(ErrorType.SYNTAX_ERROR);
                    assertThat(r.stderr()).contains("IndentationError", "print('x')");
                }),
                Program.of("null byte", "print(1)\u0000\nprint(2)\n", r -> assertThat(r.error().type()).isEqualTo(ErrorType.SYNTAX_ERROR)),
                new Program("input and output", new JobSpec(io, "{\"a\": 21}",
                        files, "t", null), 10, OutputLimits.DEFAULTS, true, r -> {
                    assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
                    assertThat(r.outputJson()).isEqualTo("{\"twice\": 42}");
                    assertThat(r.artifacts()).hasSize(2);
                }),
                Program.of("main identity", """
                        import sys, os
                        print(__name__ == '__main__', __name__, __file__, sys.argv, sys.path[0], sys.orig_argv, os.getcwd())
                        print(sorted(globals()))
                        print(type(__loader__).__name__, __loader__.name, __loader__.path, __spec__, __package__, __cached__, __doc__)
                        print(sys.path)
                        print(sorted(sys.modules))
                        print(sorted(sys.path_importer_cache))
                        print(sys.flags)
                        """, r -> assertThat(r.stdout()).startsWith("True __main__ /code/main.py ['/code/main.py'] /code ")),
                Program.of("process view", """
                        import os
                        print(os.getpid(), os.getppid(), sorted(p for p in os.listdir('/proc') if p.isdigit()))
                        print(sorted(os.listdir('/proc/self/fd')))
                        print(sorted(os.listdir('/code')), sorted(os.listdir('/input')), os.listdir('/output'), os.listdir('/tmp'))
                        print(sorted(os.environ.items()))
                        """, r -> assertThat(r.stdout()).startsWith("2 1 ['1', '2']\n['0', '1', '2', '3']\n['main.py'] [] [] []\n")),
                Program.of("non-daemon thread", """
                        import threading, time
                        def late():
                            time.sleep(0.2)
                            print('thread done')
                        threading.Thread(target=late).start()
                        print('main done')
                        """, r -> assertThat(r.stdout()).isEqualTo("main done\nthread done\n")),
                Program.of("atexit", "import atexit\natexit.register(lambda: print('bye from atexit'))\nprint('main')\n",
                        r -> assertThat(r.stdout()).isEqualTo("main\nbye from atexit\n")),
                Program.of("stdin at EOF", "import sys\nprint(repr(sys.stdin.read()), sys.stdin.isatty())\n",
                        r -> assertThat(r.stdout()).isEqualTo("'' False\n")),
                Program.of("large stdout and stderr", "import sys\nsys.stdout.write('y' * 300000)\nsys.stderr.write('e' * 100000)\n",
                        r -> assertThat(r.stdoutTruncated() && r.stderrTruncated()).isTrue()),
                Program.of("large code", bigLiteral, r -> assertThat(r.stdout()).isEqualTo("200000\n")),
                Program.of("large code, early syntax error", "def (:\n" + "# padding\n".repeat(20_000),
                        r -> assertThat(r.error().type()).isEqualTo(ErrorType.SYNTAX_ERROR)),
                Program.of("warning", "import warnings\nwarnings.warn('careful')\n",
                        r -> assertThat(r.stderr()).contains("/code/main.py:2: UserWarning: careful")),
                Program.of("utf-8 declaration", "# -*- coding: utf-8 -*-\nprint('\u00e9')\n", r -> assertThat(r.stdout()).isEqualTo("\u00e9\n")),
                Program.of("byte order mark", "\uFEFFprint('bom')\n", r -> assertThat(r.stdout()).isEqualTo("bom\n")),
                new Program("latin-1 declaration (starts cold)", JobSpec.python("# -*- coding: latin-1 -*-\nprint('\u00e9')\n"),
                        10, OutputLimits.DEFAULTS, false, r -> assertThat(r.status()).isEqualTo(JobStatus.SUCCEEDED)),
                new Program("sitecustomize in /input (starts cold)", new JobSpec("print('main')\n", null,
                        Map.of("sitecustomize.py", "print('site hook')\n".getBytes(StandardCharsets.UTF_8)), "t", null),
                        10, OutputLimits.DEFAULTS, false, r -> assertThat(r.stdout()).isEqualTo("site hook\nmain\n")),
                new Program("output cap of the request", JobSpec.python("open('/output/big.bin', 'wb').write(b'x' * (1 << 20))\n"),
                        10, new OutputLimits(1 << 16, 1 << 16, 64 << 10, 1 << 20, 10), true,
                        r -> assertThat(r.error().type()).isEqualTo(ErrorType.OUTPUT_LIMIT)),
                new Program("timeout", JobSpec.python("import time\nprint('start', flush=True)\ntime.sleep(5)\n"), 1,
                        OutputLimits.DEFAULTS, true, r -> {
                    assertThat(r.status()).isEqualTo(JobStatus.TIMEOUT);
                    assertThat(r.stdout()).isEqualTo("start\n");
                }));
    }

    @Test
    void warmAndColdRunsGiveIdenticalResults() throws IOException {
        JobType warmType = type("warm");
        JobType coldType = type("cold"); // same definition but the name: no pool
        executor.configurePool(warmType, null, new PoolSettings(2, 2, PoolSettings.DEFAULT_IDLE_TTL));
        List<Program> programs = programs();
        // the probe must have run before jobs with input files are served warm
        await().atMost(WAIT).until(() -> executor.pools().ready("warm").size() >= 1);
        int eligible = 0;
        for (Program p : programs) {
            ExecutionResult cold = run(coldType, p.spec(), p.timeout(), p.limits());
            awaitReady("warm", 1);
            long hitsBefore = stats("warm").hits();
            if (p.eligible()) awaitProbe("warm");
            ExecutionResult warm = run(warmType, p.spec(), p.timeout(), p.limits());
            System.out.println("== " + p.name() + "\n-- cold: " + describe(cold) + "\n-- warm: " + describe(warm));
            assertThat(observable(warm)).as(p.name()).isEqualTo(observable(cold));
            p.check().accept(cold);
            assertThat(stats("warm").hits() - hitsBefore).as(p.name() + " served warm").isEqualTo(p.eligible() ? 1 : 0);
            if (p.eligible()) eligible++;
        }
        assertThat(stats("warm").hits()).isEqualTo(eligible);
        assertThat(stats("warm").ineligible()).isEqualTo(programs.size() - eligible);
    }

    /** Jobs with input files are served warm once the pool's start-up probe has run. */
    private void awaitProbe(String type) {
        await().atMost(WAIT).until(() -> executor.pools().startupNames(type) != null);
    }

    @Test
    void aTypeWithALayerIsServedWarmOnItsLayer() throws IOException {
        executor.close();
        BwrapConfig config = BwrapConfig.defaults().withCgroupParent(parent);
        Path shared = Files.createDirectory(temp.resolve("shared-src"));
        Files.writeString(shared.resolve("kilnhelpers.py"), "def greet():\n    return 'hello from the layer'\n");
        LayerStore store = new LayerStore(temp.resolve("layers"), config, PipSources.DEFAULT);
        try {
            executor = new BwrapExecutor(config, store, warmRoot);
            PackageSpec spec = new PackageSpec(null, List.of(), List.of(shared.resolve("kilnhelpers.py").toString()));
            BuildOutcome built = store.build(spec, null);
            assertThat(built.success()).as(built.log()).isTrue();
            String digest = built.digest();
            JobType warmType = new JobType("warm", JobType.DEFAULT_MEMORY, 1.0, 30, 300, 64, false, Map.of(), null,
                    JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE, spec);
            JobType coldType = new JobType("cold", JobType.DEFAULT_MEMORY, 1.0, 30, 300, 64, false, Map.of(), null,
                    JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE, spec);
            executor.configurePool(warmType, digest, PoolSettings.of(1));
            awaitReady("warm", 1);
            awaitProbe("warm");
            assertThat(store.leaseCount(digest)).as("the ready sandbox leases its layer").isEqualTo(1);
            JobSpec job = new JobSpec("""
                    import sys, kilnhelpers, helper
                    print(kilnhelpers.greet(), kilnhelpers.__file__, helper.X, sys.path, sys.executable)
                    """, null, Map.of("helper.py", "X = 'input module'\n".getBytes(StandardCharsets.UTF_8)), "warm", null);

            ExecutionResult cold = run(coldType, digest, job, 10, OutputLimits.DEFAULTS);
            ExecutionResult warm = run(warmType, digest, job, 10, OutputLimits.DEFAULTS);

            assertThat(warm.stdout()).as(describe(warm)).startsWith("hello from the layer /kiln/shared/kilnhelpers.py input module "
                    + "['/code', '/input', '/kiln/shared', '/kiln/site', ");
            assertThat(observable(warm)).isEqualTo(observable(cold));
            assertThat(stats("warm").hits()).isEqualTo(1);
            assertThat(stats("warm").layerDigest()).isEqualTo(digest);
            executor.close();
            assertThat(store.leaseCount(digest)).as("leases released").isZero();
        } finally {
            executor.close();
            store.close();
        }
    }

    @Test
    void idleSandboxesOlderThanTheTtlAreReplaced() throws IOException {
        JobType t = type("t");
        executor.configurePool(t, null, new PoolSettings(1, 1, Duration.ofMillis(700)));
        awaitReady("t", 1);
        String first = readySandboxes("t").getFirst().id();
        await().atMost(WAIT).until(() -> stats("t").expired() >= 1 && stats("t").ready() == 1
                && !readySandboxes("t").getFirst().id().equals(first));
        assertThat(warmRoot.resolve(first)).doesNotExist();
        ExecutionResult r = run(t, "print('fresh')");
        assertThat(r.stdout()).as(describe(r)).isEqualTo("fresh\n");
        assertThat(stats("t").hits()).isEqualTo(1);
    }

    @Test
    void cancelOfAWarmJobReturnsCancelled() throws Exception {
        JobType t = type("t");
        executor.configurePool(t, null, PoolSettings.of(1));
        awaitReady("t", 1);
        String id = newId();
        Path workDir = Files.createDirectory(temp.resolve("cancel"));
        ExecutionRequest req = new ExecutionRequest(id, "j", 1, JobSpec.python("import time\ntime.sleep(30)\n"), t, 30,
                OutputLimits.DEFAULTS);
        var result = java.util.concurrent.CompletableFuture.supplyAsync(() -> executor.execute(req, workDir));
        await().atMost(WAIT).until(() -> executor.isRunning(id));
        executor.cancel(id);
        ExecutionResult r = result.get(10, TimeUnit.SECONDS);
        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.CANCELLED);
        assertThat(r.error().phase()).isEqualTo(JobError.PHASE_EXECUTION);
        assertThat(stats("t").hits()).isEqualTo(1);
    }

    @Test
    void closeLeavesNothingBehind() throws IOException {
        executor.configurePool(type("a"), null, new PoolSettings(2, 2, PoolSettings.DEFAULT_IDLE_TTL));
        JobType b = new JobType("b", JobType.DEFAULT_MEMORY, 1.0, 30, 300, 64, false, Map.of("X", "1"), null,
                JobType.DEFAULT_MAX_OUTPUT, JobType.DEFAULT_TMP_SIZE);
        executor.configurePool(b, null, PoolSettings.of(1));
        awaitReady("a", 2);
        awaitReady("b", 1);
        assertThat(run(type("a"), "print(1)").stdout()).isEqualTo("1\n");
        assertThat(executor.cgroups().children()).isNotEmpty();

        executor.close();

        assertNothingLeft();
    }

}
