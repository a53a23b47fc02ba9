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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static dev.kiln.sandbox.SandboxTestSupport.request;
import static dev.kiln.sandbox.SandboxTestSupport.type;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Real bubblewrap sandboxes in real cgroups: what a job can do, cannot do, and what comes back. */
class BwrapExecutorTest {
    @TempDir
    Path temp;

    private String parent;
    private BwrapExecutor executor;
    private int runs;
    private final ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();

    @BeforeEach
    void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        // the sandbox user must be able to traverse to the work dirs (as under a 0755 data directory)
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwx--x--x"));
        parent = SandboxTestSupport.uniqueParent();
        executor = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(parent));
    }

    @AfterEach
    void tearDown() {
        background.shutdownNow();
        if (executor == null) return;
        assertThat(executor.cgroups().children()).as("cgroups left under " + parent).isEmpty();
        executor.close();
        assertThat(parentDirs()).as("parent cgroup removed").noneMatch(Files::exists);
    }

    private List<Path> parentDirs() {
        Path root = BwrapConfig.defaults().cgroupRoot();
        return List.of(root.resolve(parent), root.resolve("memory").resolve(parent), root.resolve("pids").resolve(parent),
                root.resolve("cpu").resolve(parent), root.resolve("freezer").resolve(parent));
    }

    private Path newWorkDir() throws IOException {
        Path dir = temp.resolve("work-" + (++runs));
        Files.createDirectory(dir);
        return dir;
    }

    private ExecutionResult run(String code) throws IOException {
        return logged(executor.execute(request(newId(), code), newWorkDir()));
    }

    private ExecutionResult run(JobSpec spec, JobType type, int timeout, OutputLimits limits) throws IOException {
        return logged(executor.execute(request(newId(), spec, type, timeout, limits), newWorkDir()));
    }

    private static ExecutionResult logged(ExecutionResult r) {
        System.out.println(describe(r) + "\nstartupMs=" + r.startupMs() + " executionMs=" + r.executionMs() + "\n");
        return r;
    }

    private static String newId() {
        return "job" + UUID.randomUUID().toString().substring(0, 8) + "-1";
    }

    private static JobSpec spec(String code) {
        return new JobSpec(code, null, Map.of(), "default", null);
    }

    private static void assertError(ExecutionResult r, JobStatus status, ErrorType type, String phase) {
        assertThat(r.status()).as(describe(r)).isEqualTo(status);
        assertThat(r.error()).as(describe(r)).isNotNull();
        assertThat(r.error().type()).as(describe(r)).isEqualTo(type);
        assertThat(r.error().phase()).isEqualTo(phase);
    }

    private static String describe(ExecutionResult r) {
        return "status=" + r.status() + " exit=" + r.exitCode() + " error=" + r.error() + "\nstdout=" + abbreviate(r.stdout())
                + "\nstderr=" + abbreviate(r.stderr());
    }

    private static String abbreviate(String s) {
        return s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
    }

    @Test
    void printsAndReportsTheExitCode() throws IOException {
        ExecutionResult r = run("import sys\nprint(\"hi\")\nsys.exit(3)\n");

        assertError(r, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stdout()).isEqualTo("hi\n");
        assertThat(r.error().message()).isEqualTo("process exited with code 3");
        assertThat(r.stdoutTruncated()).isFalse();
    }

    @Test
    void succeedsWithTimings() throws IOException {
        ExecutionResult r = run("import time\ntime.sleep(0.3)\nprint('done')\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.error()).isNull();
        assertThat(r.exitCode()).isZero();
        assertThat(r.stdout()).isEqualTo("done\n");
        assertThat(r.executionMs()).isBetween(300L, 5_000L);
        assertThat(r.startupMs()).isBetween(0L, 5_000L);
    }

    @Test
    void readsInputDataAndReturnsResultJson() throws IOException {
        String code = """
                import json
                d = json.load(open("/input/data.json"))
                with open("/output/result.json", "w") as f:
                    json.dump({"sum": d["a"] + d["b"]}, f)
                """;
        ExecutionResult r = run(new JobSpec(code, "{\"a\": 2, \"b\": 3}", Map.of(), "default", null),
                type("default"), 10, OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.outputJson()).isEqualTo("{\"sum\": 5}");
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("result.json");
    }

    @Test
    void seesInputFilesReadOnlyWithSubdirectories() throws IOException {
        Map<String, byte[]> files = Map.of(
                "lib/helper.py", "def answer():\n    return 42\n".getBytes(StandardCharsets.UTF_8),
                "notes.txt", "hello notes".getBytes(StandardCharsets.UTF_8));
        String code = """
                from lib.helper import answer
                print(answer(), open("notes.txt").read())
                try:
                    open("/input/new.txt", "w")
                    print("input writable")
                except OSError as e:
                    print("input read-only:", e.strerror)
                """;
        ExecutionResult r = run(new JobSpec(code, null, files, "default", null), type("default"), 10, OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("42 hello notes\ninput read-only: Read-only file system\n");
    }

    @Test
    void collectsArtifactsWithSizeAndSha256() throws Exception {
        String code = """
                import os
                os.makedirs("/output/sub", exist_ok=True)
                open("/output/sub/data.bin", "wb").write(bytes(range(256)) * 100)
                open("/output/a.txt", "w").write("hello")
                """;
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        byte[] data = new byte[25_600];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i % 256);
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("a.txt", "sub/data.bin");
        CollectedArtifact bin = r.artifacts().get(1);
        assertThat(bin.size()).isEqualTo(25_600);
        assertThat(bin.sha256()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data)));
        assertThat(Files.readAllBytes(bin.file())).isEqualTo(data);
        assertThat(r.artifacts().getFirst().size()).isEqualTo(5);
        assertThat(r.outputJson()).isNull();
    }

    @Test
    void reportsSyntaxErrorsInTheCompilePhase() throws IOException {
        ExecutionResult r = run("print('a'\n");

        assertError(r, JobStatus.FAILED, ErrorType.SYNTAX_ERROR, JobError.PHASE_COMPILE);
        assertThat(r.error().message()).startsWith("SyntaxError: ");
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void reportsTheLastLineOfAnUncaughtException() throws IOException {
        ExecutionResult r = run("def f():\n    raise ValueError('boom')\nf()\n");

        assertError(r, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(r.error().message()).isEqualTo("ValueError: boom");
        assertThat(r.stderr()).contains("Traceback (most recent call last):");
    }

    @Test
    void timeoutKillsTheJobAndItsChildren() throws IOException {
        String marker = "kiln-marker-" + UUID.randomUUID();
        String code = """
                import subprocess, sys, time
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # %s"])
                print("started", flush=True)
                time.sleep(5)
                print("not reached")
                """.formatted(marker);
        long start = System.nanoTime();
        ExecutionResult r = run(spec(code), type("default"), 1, OutputLimits.DEFAULTS);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertError(r, JobStatus.TIMEOUT, ErrorType.EXECUTION_TIMEOUT, JobError.PHASE_EXECUTION);
        assertThat(r.error().message()).isEqualTo("exceeded the timeout of 1 s");
        assertThat(r.stdout()).isEqualTo("started\n");
        assertThat(tookMs).isLessThan(4_000);
        assertThat(processesWithMarker(marker)).as("processes of the job still alive").isEmpty();
    }

    @Test
    void backgroundProcessesDoNotOutliveASuccessfulJob() throws IOException {
        String marker = "kiln-marker-" + UUID.randomUUID();
        String code = """
                import subprocess, sys, os
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # %s"], start_new_session=True)
                print("bye")
                """.formatted(marker);
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(processesWithMarker(marker)).isEmpty();
    }

    @Test
    void memoryBombIsReportedAsOom() throws IOException {
        String code = """
                chunks = []
                while True:
                    chunks.append(b"x" * (8 << 20))
                """;
        ExecutionResult r = run(spec(code), type(64L << 20, 64, false, Map.of()), 20, OutputLimits.DEFAULTS);

        assertError(r, JobStatus.OOM, ErrorType.OOM, JobError.PHASE_EXECUTION);
        assertThat(r.error().message()).isEqualTo("exceeded the memory limit of 64m");
    }

    @Test
    void forkBombIsContainedByThePidsLimit() throws Exception {
        String code = """
                import os, time
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.01)
                """;
        String id = newId();
        Path workDir = newWorkDir();
        ExecutionRequest req = request(id, spec(code), type(256L << 20, 32, false, Map.of()), 3, OutputLimits.DEFAULTS);
        CompletableFuture<ExecutionResult> result = CompletableFuture.supplyAsync(() -> executor.execute(req, workDir),
                background);
        // catch a sample of the bomb's processes while it runs, to prove afterwards they are all gone
        Cgroup cg = executor.cgroups().existing(BwrapExecutor.cgroupName(id));
        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20))
                .until(() -> pidsIn(cg).size() >= 20 || result.isDone());
        List<ProcessHandle> sample = pidsIn(cg).stream().map(ProcessHandle::of).flatMap(java.util.Optional::stream).toList();
        ExecutionResult r = logged(result.get(20, TimeUnit.SECONDS));

        assertThat(sample).hasSizeGreaterThanOrEqualTo(20);
        assertError(r, r.status(), ErrorType.PIDS_LIMIT, JobError.PHASE_EXECUTION);
        assertThat(r.status()).isEqualTo(JobStatus.FAILED);
        // a killed process may linger a moment as a zombie until the host's init reaps it: it runs nothing
        assertThat(sample).noneMatch(SandboxTestSupport::isRunning);
    }

    private static List<Long> pidsIn(Cgroup cg) {
        return cg.procsFiles().stream().flatMap(p -> CgroupFiles.readPids(p).stream()).distinct().toList();
    }

    @Test
    void stdoutIsTruncatedToTheCapWhileDraining() throws IOException {
        ExecutionResult r = run("import sys\nsys.stdout.write('x' * (10 << 20))\nprint('end', file=sys.stderr)\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdoutTruncated()).isTrue();
        assertThat(r.stdout()).hasSize((int) JobType.DEFAULT_MAX_OUTPUT);
        assertThat(r.stderr()).isEqualTo("end\n");
        assertThat(r.stderrTruncated()).isFalse();
    }

    @Test
    void truncationNeverSplitsAMultiByteCharacter() throws IOException {
        OutputLimits limits = new OutputLimits(1001, 1001, 1 << 20, 1 << 20, 10);
        ExecutionResult r = run(spec("print('\u00e9' * 3_000_000)\n"), type("default"), 10, limits);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdoutTruncated()).isTrue();
        assertThat(r.stdout()).isEqualTo("\u00e9".repeat(500));
    }

    @Test
    void aNetworkedJobTypeResolvesNamesAndTrustsTheHostsCertificatesAndNothingMore() throws IOException {
        String code = """
                import os, socket, ssl
                print(open('/etc/resolv.conf').read() == RESOLV)
                print(socket.getaddrinfo('localhost', 80)[0][4][0] in ('127.0.0.1', '::1'))
                print(ssl.create_default_context().cert_store_stats()['x509_ca'] > 0 or not HOST_CAS)
                print(os.path.exists('/etc/ssl/private'), os.path.exists('/etc/shadow'))
                """;
        String resolv = Files.readString(Path.of("/etc/resolv.conf"));
        boolean hostCas = Files.exists(Path.of("/etc/ssl/certs/ca-certificates.crt"));
        String prelude = "RESOLV = " + pythonString(resolv) + "\nHOST_CAS = " + (hostCas ? "True" : "False") + "\n";
        ExecutionResult r = run(spec(prelude + code), SandboxTestSupport.type(256L << 20, 64, true, Map.of()), 10,
                OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("True\nTrue\nTrue\nFalse False\n");
    }

    @Test
    void withoutTheNetworkNoResolverConfigurationIsVisible() throws IOException {
        ExecutionResult r = run("import os\nprint(os.path.exists('/etc/resolv.conf'), os.path.exists('/etc/ssl'))");
        assertThat(r.stdout()).isEqualTo("False False\n");
    }

    private static String pythonString(String s) {
        StringBuilder b = new StringBuilder("'");
        for (char c : s.toCharArray()) b.append(String.format("\\u%04x", (int) c));
        return b.append("'").toString();
    }

    @Test
    void networkIsDenied() throws IOException {
        String code = """
                import socket
                for host, port in [("127.0.0.1", 8080), ("1.1.1.1", 53)]:
                    try:
                        socket.create_connection((host, port), timeout=3).close()
                        print(host, "connected")
                    except OSError as e:
                        print(host, type(e).__name__, e)
                try:
                    socket.getaddrinfo("example.com", 80)
                    print("dns resolved")
                except OSError as e:
                    print("dns", type(e).__name__, e)
                socket.create_connection(("1.1.1.1", 53), timeout=3)
                """;
        ExecutionResult r = run(code);

        assertThat(r.stdout()).isEqualTo("""
                127.0.0.1 ConnectionRefusedError [Errno 111] Connection refused
                1.1.1.1 OSError [Errno 101] Network is unreachable
                dns gaierror [Errno -3] Temporary failure in name resolution
                """);
        assertError(r, JobStatus.FAILED, ErrorType.NETWORK_DENIED, JobError.PHASE_EXECUTION);
        assertThat(r.error().message()).endsWith("OSError: [Errno 101] Network is unreachable");
    }

    @Test
    void loopbackExistsButHasNothingOfTheHost() throws IOException {
        ExecutionResult r = run("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=3)\n");

        // the sandbox has its own empty loopback: nothing listens, so this is a plain runtime error
        assertError(r, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(r.error().message()).isEqualTo("ConnectionRefusedError: [Errno 111] Connection refused");
    }

    @Test
    void hostFilesAreNotThere() throws IOException {
        Path secret = temp.resolve("host-secret.txt");
        Files.writeString(secret, "top-secret-value");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        String code = """
                import os
                def probe(what, f):
                    try:
                        f()
                        print(what, "visible")
                    except OSError as e:
                        print(what, type(e).__name__)
                probe("shadow", lambda: print(open("/etc/shadow").read()))
                probe("root", lambda: print(os.listdir("/root")))
                probe("home", lambda: print(os.listdir("/home")))
                probe("workroot", lambda: print(open("%s").read()))
                probe("workdir", lambda: print(os.listdir("%s")))
                print(sorted(os.listdir("/")))
                print(sorted(os.listdir("/etc")))
                """.formatted(secret, temp);
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).contains("shadow FileNotFoundError\n", "root FileNotFoundError\n",
                "home FileNotFoundError\n", "workroot FileNotFoundError\n", "workdir FileNotFoundError\n");
        assertThat(r.stdout()).doesNotContain("top-secret-value");
        assertThat(r.stdout()).contains("['bin', 'code', 'dev', 'etc', 'input', 'lib', 'lib64', 'output', 'proc', 'sbin', "
                + "'tmp', 'usr']");
        assertThat(r.stdout()).contains("['group', 'ld.so.cache', 'localtime', 'passwd']");
    }

    @Test
    void symlinksInOutputAreNotFollowed() throws IOException {
        String hostname = Files.exists(Path.of("/etc/hostname")) ? Files.readString(Path.of("/etc/hostname")).trim() : "";
        String code = """
                import os
                os.symlink("/etc/hostname", "/output/link")
                os.symlink("/etc", "/output/linkdir")
                os.mkfifo("/output/fifo")
                open("/output/ok.txt", "w").write("ok")
                open("/output/.hidden", "w").write("x")
                """;
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("ok.txt");
        assertThat(r.stderr()).contains("[kiln] skipped /output/link: symbolic link",
                "[kiln] skipped /output/linkdir: symbolic link", "[kiln] skipped /output/fifo: not a regular file",
                "[kiln] skipped /output/.hidden: invalid name");
        for (CollectedArtifact a : r.artifacts()) {
            if (!hostname.isEmpty()) assertThat(Files.readString(a.file())).doesNotContain(hostname);
        }
    }

    @Test
    void environmentHasTheJobTypeVariablesAndNothingOfTheHost() throws IOException {
        String code = """
                import os
                for k, v in sorted(os.environ.items()):
                    print(f"{k}={v}")
                """;
        ExecutionResult r = run(spec(code), type(JobType.DEFAULT_MEMORY, 64, false, Map.of("KILN_JOB_VAR", "hello")),
                10, OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        Map<String, String> env = new LinkedHashMap<>();
        r.stdout().lines().forEach(l -> env.put(l.substring(0, l.indexOf('=')), l.substring(l.indexOf('=') + 1)));
        assertThat(env).containsEntry("KILN_JOB_VAR", "hello")
                .containsEntry("PATH", "/usr/local/bin:/usr/bin:/bin")
                .containsEntry("HOME", "/tmp")
                .containsEntry("PYTHONPATH", "/input");
        assertThat(env.keySet()).isSubsetOf("KILN_JOB_VAR", "PATH", "HOME", "TMPDIR", "LANG", "PYTHONUNBUFFERED",
                "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PWD", "LC_CTYPE");
        for (String hostVar : List.of("HOME", "USER", "JAVA_HOME", "PATH", "MAVEN_OPTS")) {
            String value = System.getenv(hostVar);
            if (value != null && !value.isEmpty() && !value.equals("/tmp")) {
                assertThat(env.values()).as("host " + hostVar).doesNotContain(value);
            }
        }
    }

    @Test
    void runsAsNobody() throws IOException {
        ExecutionResult r = run("import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getegid())\n"
                + "import pwd\nprint(pwd.getpwuid(os.getuid()).pw_name)\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("65534 65534 65534 65534\nnobody\n");
    }

    @Test
    void cancelOfARunningJobReturnsCancelledQuickly() throws Exception {
        String id = newId();
        Path workDir = newWorkDir();
        ExecutionRequest req = request(id, spec("import time\nprint('up', flush=True)\ntime.sleep(30)\n"),
                type("default"), 30, OutputLimits.DEFAULTS);
        CompletableFuture<ExecutionResult> result = CompletableFuture.supplyAsync(() -> executor.execute(req, workDir),
                background);
        await().atMost(Duration.ofSeconds(5)).until(() -> executor.isRunning(id));
        Thread.sleep(200);
        long start = System.nanoTime();
        executor.cancel(id);
        ExecutionResult r = logged(result.get(5, TimeUnit.SECONDS));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertError(r, JobStatus.CANCELLED, ErrorType.CANCELLED, JobError.PHASE_EXECUTION);
        assertThat(tookMs).isLessThan(2_000);
    }

    @Test
    void anInterruptedCallerGetsASandboxErrorAndNothingIsLeft() throws Exception {
        String id = newId();
        Path workDir = newWorkDir();
        ExecutionRequest req = request(id, spec("import time\ntime.sleep(30)\n"), type("default"), 30, OutputLimits.DEFAULTS);
        CompletableFuture<ExecutionResult> result = new CompletableFuture<>();
        CompletableFuture<Boolean> stillInterrupted = new CompletableFuture<>();
        Thread caller = Thread.ofVirtual().start(() -> {
            result.complete(executor.execute(req, workDir));
            stillInterrupted.complete(Thread.currentThread().isInterrupted());
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> executor.isRunning(id));
        caller.interrupt();
        ExecutionResult r = logged(result.get(5, TimeUnit.SECONDS));

        assertError(r, JobStatus.FAILED, ErrorType.SANDBOX_ERROR, JobError.PHASE_EXECUTION);
        assertThat(stillInterrupted.get(5, TimeUnit.SECONDS)).as("interrupt flag restored").isTrue();
        assertThat(workDir.resolve("output")).isEmptyDirectory(); // unmounted
    }

    @Test
    void concurrentExecutionsAreIsolatedFromEachOther() throws Exception {
        String code = """
                import os, time
                open("/output/me.txt", "w").write(open("/input/who.txt").read())
                time.sleep(0.3)
                print(sorted(os.listdir("/output")), open("/output/me.txt").read())
                """;
        List<CompletableFuture<ExecutionResult>> results = new java.util.ArrayList<>();
        for (String who : List.of("alpha", "beta", "gamma")) {
            JobSpec spec = new JobSpec(code, null, Map.of("who.txt", who.getBytes(StandardCharsets.UTF_8)), "default", null);
            ExecutionRequest req = request(newId(), spec, type("default"), 10, OutputLimits.DEFAULTS);
            Path workDir = newWorkDir();
            results.add(CompletableFuture.supplyAsync(() -> executor.execute(req, workDir), background));
        }
        List<String> outputs = new java.util.ArrayList<>();
        for (var f : results) {
            ExecutionResult r = logged(f.get(20, TimeUnit.SECONDS));
            assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
            outputs.add(r.stdout());
        }
        assertThat(outputs).containsExactly("['me.txt'] alpha\n", "['me.txt'] beta\n", "['me.txt'] gamma\n");
    }

    @Test
    void staleOutputMountsBelowTheWorkRootAreUnmounted() throws Exception {
        Path output = Files.createDirectories(temp.resolve("crashed/exec 1/output"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=4096", "tmpfs", output.toString())
                .redirectErrorStream(true).start();
        assertThat(mount.waitFor()).as(new String(mount.getInputStream().readAllBytes())).isZero();
        Files.writeString(output.resolve("x"), "on tmpfs");

        assertThat(executor.unmountStaleOutputs(temp)).isEqualTo(1);

        assertThat(output).isEmptyDirectory();
        assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(temp.toRealPath().toString());
    }

    @Test
    void cancelBeforeStartPreventsTheRun() throws IOException {
        String id = newId();
        executor.cancel(id);
        Path workDir = newWorkDir();
        ExecutionResult r = executor.execute(request(id, "open('/output/ran', 'w').write('x')\n"), workDir);

        assertError(r, JobStatus.CANCELLED, ErrorType.CANCELLED, JobError.PHASE_EXECUTION);
        assertThat(r.artifacts()).isEmpty();
        // the cancel was consumed: a later execution of another id runs normally
        assertThat(run("print(1)\n").status()).isEqualTo(JobStatus.SUCCEEDED);
    }

    @Test
    void aFileOverTheArtifactCapIsAFileLimitFailure() throws IOException {
        OutputLimits limits = new OutputLimits(1 << 16, 1 << 16, 1 << 20, 1000, 10);
        ExecutionResult r = run(spec("open('/output/small.txt','w').write('s')\nopen('/output/big.bin','wb').write(b'x' * 2000)\n"),
                type("default"), 10, limits);

        assertError(r, JobStatus.FAILED, ErrorType.FILE_LIMIT, JobError.PHASE_OUTPUT);
        assertThat(r.error().message()).contains("/output/big.bin", "1000");
        assertThat(r.exitCode()).isZero();
    }

    @Test
    void tooManyFilesIsAFileLimitFailure() throws IOException {
        OutputLimits limits = new OutputLimits(1 << 16, 1 << 16, 1 << 20, 1000, 3);
        ExecutionResult r = run(spec("for i in range(5):\n    open(f'/output/f{i}.txt', 'w').write('x')\n"),
                type("default"), 10, limits);

        assertError(r, JobStatus.FAILED, ErrorType.FILE_LIMIT, JobError.PHASE_OUTPUT);
        assertThat(r.error().message()).contains("more than 3 files");
    }

    @Test
    void fillingOutputHitsTheOutputLimitWhileRunning() throws IOException {
        OutputLimits limits = new OutputLimits(1 << 16, 1 << 16, 64 << 10, 1 << 20, 10);
        ExecutionResult r = run(spec("open('/output/big.bin', 'wb').write(b'x' * (1 << 20))\n"), type("default"), 10,
                limits);

        assertError(r, JobStatus.FAILED, ErrorType.OUTPUT_LIMIT, JobError.PHASE_EXECUTION);
        assertThat(r.stderr()).contains("No space left on device");
    }

    @Test
    void staleCgroupsOfACrashedRunAreKilledAndRemovedAtStart() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "30").start();
        try (Cgroups cgroups = CgroupDetector.detect(BwrapConfig.defaults().cgroupRoot(), parent)) {
            Cgroup stale = cgroups.create("stale-1", new CgroupLimits(64L << 20, 16, 1.0));
            for (Path procs : stale.procsFiles()) CgroupFiles.write(procs, Long.toString(sleeper.pid()));
            assertThat(cgroups.children()).containsExactly("stale-1");

            try (BwrapExecutor second = new BwrapExecutor(BwrapConfig.defaults().withCgroupParent(parent))) {
                assertThat(sleeper.waitFor(5, TimeUnit.SECONDS)).isTrue();
                assertThat(second.cgroups().children()).isEmpty();
            }
        } finally {
            sleeper.destroyForcibly();
        }
    }
}
