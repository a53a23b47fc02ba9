package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.core.JobType;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The acceptance list of the single-node issue, end to end: real HTTP, real SQLite, real bubblewrap sandboxes with
 * real cgroup limits. Skipped only where the machine has no bwrap, is not root, or has no cgroups.
 */
class SandboxedExecutionTest {
    private static TestServer kiln;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
        JobType small = new JobType("small", 64L << 20, 1.0, 10, 30, 32, false, Map.of("KILN_TEST_VAR", "hello"),
                null, 64L << 10, 16L << 20);
        kiln = TestServer.start("bwrap", c -> c.withJobTypes(List.of(small)));
    }

    @AfterAll
    static void stop() throws Exception {
        if (kiln != null) kiln.close();
    }

    private static JobResponse run(String code) {
        return kiln.client.execute(JobRequest.python(code));
    }

    @Test
    void printsAndExitCodes() {
        JobResponse ok = run("print('hello, kiln')");
        assertThat(ok.status()).isEqualTo("succeeded");
        assertThat(ok.success()).isTrue();
        assertThat(ok.stdout()).isEqualTo("hello, kiln\n");
        assertThat(ok.exitCode()).isZero();
        assertThat(ok.error()).isNull();
        assertThat(ok.executionTime()).isNotNull();

        JobResponse exit3 = run("import sys\nprint('bye')\nsys.exit(3)");
        assertThat(exit3.status()).isEqualTo("failed");
        assertThat(exit3.exitCode()).isEqualTo(3);
        assertThat(exit3.stdout()).isEqualTo("bye\n");
        assertThat(exit3.error().type()).isEqualTo("runtime_error");
    }

    @Test
    void inputDataInAndResultJsonOut() {
        JobResponse r = kiln.client.execute(JobRequest.python("""
                import json
                data = json.load(open('/input/data.json'))
                json.dump({'total': sum(data['values']), 'cwd_file': open('notes.txt').read()},
                          open('/output/result.json', 'w'))
                """).withInputData(Map.of("values", List.of(1, 2, 3)))
                .withFiles(Map.of("notes.txt", "from a file".getBytes(StandardCharsets.UTF_8))));
        assertThat(r.status()).isEqualTo("succeeded");
        assertThat(r.output().get("total").asInt()).isEqualTo(6);
        assertThat(r.output().get("cwd_file").asString()).isEqualTo("from a file");
    }

    @Test
    void artifactsAreStoredWithSizeAndDigest() throws Exception {
        JobResponse r = run("""
                import os
                os.makedirs('/output/plots', exist_ok=True)
                open('/output/plots/data.csv', 'w').write('a,b\\n1,2\\n')
                """);
        assertThat(r.status()).isEqualTo("succeeded");
        JobResponse.Artifact a = r.artifacts().stream().filter(x -> x.name().equals("plots/data.csv")).findFirst()
                .orElseThrow();
        byte[] expected = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        assertThat(a.size()).isEqualTo(expected.length);
        assertThat(a.sha256()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(expected)));
        assertThat(kiln.client.artifact(r.jobId(), "plots/data.csv")).isEqualTo(expected);
    }

    @Test
    void syntaxErrorAndUncaughtException() {
        JobResponse syntax = run("def broken(:\n  pass");
        assertThat(syntax.status()).isEqualTo("failed");
        assertThat(syntax.error().type()).isEqualTo("syntax_error");
        assertThat(syntax.error().phase()).isEqualTo("compile");

        JobResponse boom = run("raise ValueError('boom')");
        assertThat(boom.status()).isEqualTo("failed");
        assertThat(boom.error().type()).isEqualTo("runtime_error");
        assertThat(boom.error().message()).contains("ValueError: boom");
        assertThat(boom.stderr()).contains("Traceback");
    }

    @Test
    void timeoutKillsEverythingTheJobStarted() throws Exception {
        String marker = "kiln-marker-" + UUID.randomUUID();
        JobResponse r = kiln.client.execute(JobRequest.python(
                "import subprocess, time\nsubprocess.Popen(['sleep', '60', '" + marker + "'])\ntime.sleep(2)")
                .withTimeout(1));
        assertThat(r.status()).isEqualTo("timeout");
        assertThat(r.error().type()).isEqualTo("execution_timeout");
        assertThat(processesWith(marker)).isEmpty();
    }

    @Test
    void memoryBombIsOom() {
        JobResponse r = kiln.client.execute(JobRequest.python(
                "x = []\nwhile True:\n    x.append(bytearray(8 * 1024 * 1024))").withJobType("small"));
        assertThat(r.status()).isEqualTo("oom");
        assertThat(r.error().type()).isEqualTo("oom");
    }

    @Test
    void forkBombIsContainedAndTheHostIsFine() throws Exception {
        String marker = "kiln-fork-" + UUID.randomUUID();
        JobResponse r = kiln.client.execute(JobRequest.python("""
                import os, time
                children = 0
                while True:
                    try:
                        if os.fork() == 0:
                            os.execvp('sleep', ['sleep', '60', '%s'])
                        children += 1
                    except OSError:
                        break
                print(children)
                time.sleep(60)
                """.formatted(marker)).withJobType("small").withTimeout(3));
        assertThat(r.status()).isIn("failed", "timeout");
        assertThat(r.error().type()).isIn("pids_limit", "execution_timeout");
        assertThat(processesWith(marker)).isEmpty();
        assertThat(run("print('still fine')").stdout()).isEqualTo("still fine\n");
    }

    @Test
    void tenMegabytesOfOutputAreTruncatedAndServerMemoryStaysFlat() {
        JobResponse warm = run("import sys\nsys.stdout.write('x' * 10_000_000)");
        assertThat(warm.stdoutTruncated()).isTrue();
        long before = heapUsedAfterGc();
        for (int i = 0; i < 3; i++) {
            JobResponse r = run("import sys\nsys.stdout.write('x' * 10_000_000)\nsys.stderr.write('y' * 10_000_000)");
            assertThat(r.status()).isEqualTo("succeeded");
            assertThat(r.stdoutTruncated()).isTrue();
            assertThat(r.stderrTruncated()).isTrue();
            assertThat(r.stdout().length()).isEqualTo(64 * 1024);
        }
        // 60 MB went through; the server kept at most the caps of each stream.
        assertThat(heapUsedAfterGc() - before).isLessThan(16L << 20);
    }

    @Test
    void noNetwork() {
        JobResponse r = run("""
                import socket
                s = socket.socket()
                s.settimeout(2)
                s.connect(('1.1.1.1', 53))
                """);
        assertThat(r.status()).isEqualTo("failed");
        assertThat(r.error().type()).isIn("network_denied", "runtime_error");
        assertThat(r.stderr()).containsAnyOf("Network is unreachable", "Errno 101");

        JobResponse local = run("""
                import socket
                s = socket.socket()
                s.settimeout(2)
                s.connect(('127.0.0.1', %d))
                """.formatted(kiln.server.port()));
        assertThat(local.status()).isEqualTo("failed");
        assertThat(local.stderr()).contains("Connection refused");
    }

    @Test
    void hostSecretsAndTheDataDirectoryAreNotThere() {
        String dataDir = kiln.dataDir.toAbsolutePath().toString();
        JobResponse r = run("""
                import os
                for p in ['/etc/shadow', '/root', '%s', '%s/kiln.db', '/home']:
                    print(p, os.path.exists(p))
                print('uid', os.getuid(), os.getgid())
                print('env', sorted(os.environ))
                """.formatted(dataDir, dataDir));
        assertThat(r.status()).isEqualTo("succeeded");
        assertThat(r.stdout()).contains("/etc/shadow False", "/root False", dataDir + " False",
                dataDir + "/kiln.db False", "uid 65534 65534");
        assertThat(r.stdout()).doesNotContain("JAVA_HOME", "USER", "MAVEN");
    }

    @Test
    void jobTypeEnvironmentIsVisible() {
        JobResponse r = kiln.client.execute(JobRequest.python("import os\nprint(os.environ.get('KILN_TEST_VAR'))")
                .withJobType("small"));
        assertThat(r.stdout()).isEqualTo("hello\n");
    }

    @Test
    void symlinkInOutputIsNotFollowed() {
        JobResponse r = run("""
                import os
                os.symlink('/etc/hostname', '/output/leak.txt')
                os.symlink('/etc', '/output/etcdir')
                open('/output/real.txt', 'w').write('ok')
                """);
        assertThat(r.status()).isEqualTo("succeeded");
        assertThat(r.artifacts()).extracting(JobResponse.Artifact::name).containsExactly("real.txt");
    }

    @Test
    void cancelARunningJob() throws Exception {
        JobResponse submitted = kiln.client.submit(JobRequest.python("import time\ntime.sleep(30)"));
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> kiln.client.get(submitted.jobId(), 0).status().equals("running"));
        JobResponse cancelled = kiln.client.cancel(submitted.jobId());
        assertThat(cancelled.status()).isEqualTo("cancelled");
        assertThat(cancelled.error().type()).isEqualTo("cancelled");
    }

    private static List<String> processesWith(String marker) throws IOException {
        List<String> found = new java.util.ArrayList<>();
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(x -> x.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    if (cmd.contains(marker) && !cmd.contains("java")) found.add(p + ": " + cmd);
                } catch (IOException gone) {
                    // exited meanwhile
                }
            }
        }
        return found;
    }

    private static long heapUsedAfterGc() {
        for (int i = 0; i < 3; i++) System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
