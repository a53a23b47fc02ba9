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
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.kiln.sandbox.SandboxTestSupport.processesWithMarker;
import static dev.kiln.sandbox.SandboxTestSupport.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What a job can do, cannot do, and what comes back, on the gVisor executor (the BwrapExecutorTest behaviours). */
class GvisorExecutorTest extends GvisorTestBase {

    @Test
    void detectsAPlatformAndRunsOnIt() {
        RunscPlatform p = executor.platform();
        assertThat(p.platform()).isIn("ptrace", "systrap", "kvm");
        assertThat(p.version()).startsWith("runsc version");
        assertThat(p.why()).isNotBlank();
    }

    @Test
    void withoutRunscTheExecutorIsRefusedNamingThePackage() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new GvisorExecutor(
                        BwrapConfig.defaults().withCgroupParent(parent + "-x"), temp.resolve("no-runsc"), null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("apt-get install -y runsc");
    }

    /** multiprocessing's locks need POSIX semaphores in /dev/shm, as bwrap's --dev gives them. */
    @Test
    void multiprocessingWorks() throws IOException {
        ExecutionResult r = run("import multiprocessing\nwith multiprocessing.get_context('fork').Pool(2) as p:\n"
                + "    print(p.map(abs, [-1, -2]))\n");
        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).isEqualTo("[1, 2]\n");
    }

    @Test
    void printsAndReportsTheExitCode() throws IOException {
        ExecutionResult r = run("import sys\nprint(\"hi\")\nsys.exit(3)\n");

        assertError(r, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stdout()).isEqualTo("hi\n");
        assertThat(r.error().message()).isEqualTo("process exited with code 3");
    }

    @Test
    void succeedsWithTimingsInsideGvisorsKernel() throws IOException {
        // gVisor's own kernel answers uname: the host's kernel release (6.x here) is not what the job sees
        ExecutionResult r = run("import os, time\ntime.sleep(0.3)\nprint(os.uname().release, open('/proc/version').read())\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).doesNotContain(System.getProperty("os.version"));
        assertThat(r.executionMs()).isBetween(300L, 10_000L);
    }

    @Test
    void readsInputDataAndFilesAndReturnsResultJson() throws IOException {
        String code = """
                import json
                from lib.helper import answer
                d = json.load(open("/input/data.json"))
                try:
                    open("/input/new.txt", "w")
                    print("input writable")
                except OSError as e:
                    print("input read-only:", e.strerror)
                with open("/output/result.json", "w") as f:
                    json.dump({"sum": d["a"] + d["b"] + answer()}, f)
                """;
        Map<String, byte[]> files = Map.of("lib/helper.py", "def answer():\n    return 42\n".getBytes(StandardCharsets.UTF_8));
        ExecutionResult r = run(new JobSpec(code, "{\"a\": 2, \"b\": 3}", files, "default", null),
                JobType.defaults("default"), 10, OutputLimits.DEFAULTS);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        // gVisor checks the permission (root's 0755 dir) before the read-only mount: refused either way
        assertThat(r.stdout()).isIn("input read-only: Permission denied\n", "input read-only: Read-only file system\n");
        assertThat(r.outputJson()).isEqualTo("{\"sum\": 47}");
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("result.json");
    }

    @Test
    void collectsArtifacts() throws Exception {
        String code = """
                import os
                os.makedirs("/output/sub", exist_ok=True)
                open("/output/sub/data.bin", "wb").write(bytes(range(256)) * 100)
                open("/output/a.txt", "w").write("hello")
                """;
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("a.txt", "sub/data.bin");
        assertThat(r.artifacts().get(1).size()).isEqualTo(25_600);
        assertThat(Files.readString(r.artifacts().getFirst().file())).isEqualTo("hello");
    }

    @Test
    void reportsSyntaxErrorsAndExceptions() throws IOException {
        ExecutionResult syntax = run("print('a'\n");
        assertError(syntax, JobStatus.FAILED, ErrorType.SYNTAX_ERROR, JobError.PHASE_COMPILE);
        ExecutionResult raised = run("def f():\n    raise ValueError('boom')\nf()\n");
        assertError(raised, JobStatus.FAILED, ErrorType.RUNTIME_ERROR, JobError.PHASE_EXECUTION);
        assertThat(raised.error().message()).isEqualTo("ValueError: boom");
    }

    @Test
    void timeoutKillsTheJobAndItsChildren() throws IOException {
        String marker = "kiln-marker-" + UUID.randomUUID();
        String code = """
                import subprocess, sys, time
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)  # %s"])
                print("started", flush=True)
                time.sleep(8)
                print("not reached")
                """.formatted(marker);
        long start = System.nanoTime();
        ExecutionResult r = run(spec(code), JobType.defaults("default"), 2, OutputLimits.DEFAULTS);
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertError(r, JobStatus.TIMEOUT, ErrorType.EXECUTION_TIMEOUT, JobError.PHASE_EXECUTION);
        assertThat(r.stdout()).isEqualTo("started\n");
        assertThat(tookMs).isLessThan(6_000);
        assertThat(processesWithMarker(marker)).isEmpty();
        assertThat(runscProcesses()).isEmpty();
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
        ExecutionResult r = run(spec(code), type(256L << 20, 16, false, Map.of()), 10, OutputLimits.DEFAULTS);

        assertError(r, JobStatus.FAILED, ErrorType.PIDS_LIMIT, JobError.PHASE_EXECUTION);
        assertThat(runscProcesses()).isEmpty();
    }

    @Test
    void stdoutIsTruncatedToTheCap() throws IOException {
        ExecutionResult r = run("import sys\nsys.stdout.write('x' * (10 << 20))\nprint('end', file=sys.stderr)\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdoutTruncated()).isTrue();
        assertThat(r.stdout()).hasSize((int) JobType.DEFAULT_MAX_OUTPUT);
        assertThat(r.stderr()).isEqualTo("end\n");
    }

    @Test
    void outputBeyondAPipeBufferArrivesWhole() throws IOException {
        // runsc 2022 drops what does not fit into a full host pipe; through the relay every byte arrives
        OutputLimits limits = new OutputLimits(4 << 20, 1 << 16, 1 << 20, 1 << 20, 10);
        JobType big = new JobType("big", JobType.DEFAULT_MEMORY, 1.0, 30, 300, 64, false, Map.of(), null, 4L << 20,
                JobType.DEFAULT_TMP_SIZE);
        ExecutionResult r = run(spec("import sys\nsys.stdout.write('y' * (3 << 20))\n"), big, 20, limits);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdoutTruncated()).isFalse();
        assertThat(r.stdout()).hasSize(3 << 20).matches("y+");
    }

    @Test
    void anInterruptedCallerGetsASandboxErrorAndNothingIsLeft() throws Exception {
        String id = newId();
        Path workDir = newWorkDir();
        ExecutionRequest req = request(id, spec("import time\ntime.sleep(30)\n"), JobType.defaults("default"), 30,
                OutputLimits.DEFAULTS);
        CompletableFuture<ExecutionResult> result = new CompletableFuture<>();
        Thread caller = Thread.ofVirtual().start(() -> result.complete(executor.execute(req, workDir)));
        await().atMost(Duration.ofSeconds(10)).until(() -> executor.isRunning(id));
        caller.interrupt();
        ExecutionResult r = logged(result.get(10, TimeUnit.SECONDS));

        assertError(r, JobStatus.FAILED, ErrorType.SANDBOX_ERROR, JobError.PHASE_EXECUTION);
        assertThat(runscProcesses()).isEmpty();
        assertThat(workDir.resolve("output")).isEmptyDirectory();
    }

    @Test
    void fillingOutputHitsTheOutputLimitWhileRunning() throws IOException {
        OutputLimits limits = new OutputLimits(1 << 16, 1 << 16, 64 << 10, 1 << 20, 10);
        ExecutionResult r = run(spec("open('/output/big.bin', 'wb').write(b'x' * (1 << 20))\n"),
                JobType.defaults("default"), 10, limits);

        assertError(r, JobStatus.FAILED, ErrorType.OUTPUT_LIMIT, JobError.PHASE_EXECUTION);
        assertThat(r.stderr()).contains("No space left on device");
    }

    @Test
    void networkIsDeniedAndLoopbackIsTheSandboxesOwn() throws IOException {
        String code = """
                import socket
                for host, port in [("127.0.0.1", 22), ("1.1.1.1", 53)]:
                    try:
                        socket.create_connection((host, port), timeout=3).close()
                        print(host, "connected")
                    except OSError as e:
                        print(host, type(e).__name__)
                socket.create_connection(("1.1.1.1", 53), timeout=3)
                """;
        ExecutionResult r = run(code);

        assertThat(r.stdout()).isEqualTo("127.0.0.1 ConnectionRefusedError\n1.1.1.1 OSError\n");
        assertError(r, JobStatus.FAILED, ErrorType.NETWORK_DENIED, JobError.PHASE_EXECUTION);
    }

    @Test
    void aNetworkEnabledTypeIsRefusedRatherThanGivenTheHostsNetwork() throws IOException {
        ExecutionResult r = run(spec("print(1)\n"), type(JobType.DEFAULT_MEMORY, 64, true, Map.of()), 10,
                OutputLimits.DEFAULTS);

        assertError(r, JobStatus.FAILED, ErrorType.SANDBOX_ERROR, JobError.PHASE_SETUP);
        assertThat(r.error().message()).contains("network_enabled", "gvisor");
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
                probe("workroot", lambda: print(open("%s").read()))
                probe("workdir", lambda: print(os.listdir("%s")))
                print(sorted(os.listdir("/")))
                print(sorted(os.listdir("/etc")))
                """.formatted(secret, temp);
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).contains("shadow FileNotFoundError\n", "root FileNotFoundError\n",
                "workroot FileNotFoundError\n", "workdir FileNotFoundError\n");
        assertThat(r.stdout()).doesNotContain("top-secret-value");
        // unlike bwrap, /sys is there: gVisor's own synthetic sysfs (nothing of the host's; writes fail, see
        // GvisorHostileProbesTest)
        assertThat(r.stdout()).contains("['bin', 'code', 'dev', 'etc', 'input', 'lib', 'lib64', 'output', 'proc', "
                + "'sbin', 'sys', 'tmp', 'usr']");
        assertThat(r.stdout()).contains("['group', 'ld.so.cache', 'localtime', 'passwd']");
    }

    @Test
    void symlinksInOutputAreNotFollowed() throws IOException {
        String code = """
                import os
                os.symlink("/etc/hostname", "/output/link")
                os.symlink("/etc", "/output/linkdir")
                os.mkfifo("/output/fifo")
                open("/output/ok.txt", "w").write("ok")
                """;
        ExecutionResult r = run(code);

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.artifacts()).extracting(CollectedArtifact::name).containsExactly("ok.txt");
        // the FIFO exists only inside gVisor's kernel (runsc refuses host FIFOs): the host never sees it
        assertThat(r.stderr()).contains("[kiln] skipped /output/link: symbolic link",
                "[kiln] skipped /output/linkdir: symbolic link");
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
        assertThat(env).containsEntry("KILN_JOB_VAR", "hello").containsEntry("PYTHONPATH", "/input")
                .containsEntry("HOME", "/tmp");
        assertThat(env.keySet()).isSubsetOf("KILN_JOB_VAR", "PATH", "HOME", "TMPDIR", "LANG", "PYTHONUNBUFFERED",
                "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PWD", "LC_CTYPE");
    }

    @Test
    void runsAsNobodyWithoutCapabilities() throws IOException {
        ExecutionResult r = run("import os, pwd\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getegid())\n"
                + "print(pwd.getpwuid(os.getuid()).pw_name)\n"
                + "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd'))])\n");

        assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(r.stdout()).startsWith("65534 65534 65534 65534\nnobody\n")
                .contains("CapEff:\\t0000000000000000", "CapBnd:\\t0000000000000000");
    }

    @Test
    void cancelOfARunningJobReturnsCancelledQuicklyAndLeavesNothing() throws Exception {
        String id = newId();
        Path workDir = newWorkDir();
        ExecutionRequest req = request(id, spec("import time\nprint('up', flush=True)\ntime.sleep(30)\n"),
                JobType.defaults("default"), 30, OutputLimits.DEFAULTS);
        CompletableFuture<ExecutionResult> result = CompletableFuture.supplyAsync(() -> executor.execute(req, workDir),
                background);
        await().atMost(Duration.ofSeconds(10)).until(() -> executor.isRunning(id) && !runscProcesses().isEmpty());
        Thread.sleep(300);
        long start = System.nanoTime();
        executor.cancel(id);
        ExecutionResult r = logged(result.get(10, TimeUnit.SECONDS));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertError(r, JobStatus.CANCELLED, ErrorType.CANCELLED, JobError.PHASE_EXECUTION);
        assertThat(tookMs).isLessThan(4_000);
        assertThat(runscProcesses()).isEmpty();
        assertThat(workDir.resolve("gvisor")).doesNotExist();
        assertThat(workDir.resolve("output")).isEmptyDirectory(); // the /output tmpfs is unmounted
    }

    @Test
    void cancelBeforeStartPreventsTheRun() throws IOException {
        String id = newId();
        executor.cancel(id);
        ExecutionResult r = executor.execute(request(id, "open('/output/ran', 'w').write('x')\n"), newWorkDir());

        assertError(r, JobStatus.CANCELLED, ErrorType.CANCELLED, JobError.PHASE_EXECUTION);
        assertThat(run("print(1)\n").status()).isEqualTo(JobStatus.SUCCEEDED);
    }

    @Test
    void concurrentExecutionsAreIsolatedFromEachOther() throws Exception {
        String code = """
                import os, time
                open("/output/me.txt", "w").write(open("/input/who.txt").read())
                time.sleep(0.5)
                print(sorted(os.listdir("/output")), open("/output/me.txt").read(), sorted(os.listdir("/proc"))[-3:])
                """;
        List<CompletableFuture<ExecutionResult>> results = new ArrayList<>();
        for (String who : List.of("alpha", "beta", "gamma")) {
            JobSpec spec = new JobSpec(code, null, Map.of("who.txt", who.getBytes(StandardCharsets.UTF_8)), "default", null);
            ExecutionRequest req = request(newId(), spec, JobType.defaults("default"), 20, OutputLimits.DEFAULTS);
            Path workDir = newWorkDir();
            results.add(CompletableFuture.supplyAsync(() -> executor.execute(req, workDir), background));
        }
        List<String> outputs = new ArrayList<>();
        for (var f : results) {
            ExecutionResult r = logged(f.get(40, TimeUnit.SECONDS));
            assertThat(r.status()).as(describe(r)).isEqualTo(JobStatus.SUCCEEDED);
            outputs.add(r.stdout().substring(0, r.stdout().indexOf(" [")));
        }
        // each sandbox has its own /output and its own pid namespace (only its own few processes in /proc)
        assertThat(outputs).containsExactly("['me.txt'] alpha", "['me.txt'] beta", "['me.txt'] gamma");
    }
}
