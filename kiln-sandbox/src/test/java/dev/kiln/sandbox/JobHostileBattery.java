package dev.kiln.sandbox;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.kiln.sandbox.HostileProbes.PRELUDE;
import static dev.kiln.sandbox.HostileProbes.assertDenied;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The hostile battery plus what only a job (not a layer build) has: an {@code /output} that is read back, and
 * neighbours running at the same time. {@link #run} must be callable from two threads at once.
 */
abstract class JobHostileBattery extends HostileBattery {
    @TempDir
    Path hostDir;

    /**
     * A background process keeps swapping {@code /output/data.txt}, {@code /output/result.json} and
     * {@code /output/dir} for symlinks to host paths holding a secret while the job ends; whatever is collected
     * must never contain the host's data (the collector runs on the host, where those absolute paths resolve).
     */
    @Test
    void symlinksSwappedIntoOutputNeverBringHostDataBack() throws Exception {
        String secret = "HOST-SECRET-" + UUID.randomUUID();
        Files.setPosixFilePermissions(hostDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path secretFile = hostDir.resolve("secret.txt");
        Files.writeString(secretFile, secret);
        Path secretDir = Files.createDirectories(hostDir.resolve("secret-dir"));
        Files.writeString(secretDir.resolve("inner.txt"), secret);
        ExecutionResult r = run(PRELUDE + """
                import subprocess, json
                SECRET_FILE, SECRET_DIR = %s, %s
                swapper = '''
                import os, time
                while True:
                    for name, target in (("data.txt", SECRET_FILE), ("result.json", SECRET_FILE), ("dir", SECRET_DIR)):
                        tmp = "/output/." + name + ".lnk"
                        try:
                            os.symlink(target, tmp); os.rename(tmp, "/output/" + name)
                        except OSError:
                            pass
                        try:
                            os.unlink(tmp)
                        except OSError:
                            pass
                '''
                swapper = "SECRET_FILE, SECRET_DIR = %%r, %%r\\n" %% (SECRET_FILE, SECRET_DIR) + swapper.replace("\\n    ", "\\n")
                with open("/output/data.txt", "w") as f: f.write("honest")
                os.makedirs("/output/dir", exist_ok=True)
                with open("/output/dir/inner.txt", "w") as f: f.write("honest")
                subprocess.Popen([sys.executable, "-c", swapper], start_new_session=True)
                time.sleep(0.5)
                print("SWAPPING", os.listdir("/output"), flush=True)
                """.formatted(pyString(secretFile.toString()), pyString(secretDir.toString())));
        assertThat(r.stdout()).as(r.stderr()).contains("SWAPPING");
        for (CollectedArtifact a : r.artifacts()) {
            if (a.file() != null && Files.isRegularFile(a.file())) {
                assertThat(Files.readString(a.file(), StandardCharsets.ISO_8859_1)).as(a.name()).doesNotContain(secret);
            }
        }
        assertThat(r.outputJson() == null ? "" : r.outputJson()).doesNotContain(secret);
        assertThat(r.stdout() + r.stderr()).doesNotContain(secret);
    }

    /**
     * Job A holds a secret in its /tmp, its environment and its command line and sleeps; job B, at the same time,
     * looks for A through its own /proc, tries A's host pid (which the test finds on the host, where the platform
     * allows), kill, {@code /proc/<pid>/root} and {@code /proc/<pid>/environ}. A must finish untouched and B must
     * find nothing of A.
     */
    @Test
    void concurrentJobsCannotReachEachOther() throws Exception {
        String secret = "NEIGHBOUR-" + UUID.randomUUID().toString().substring(0, 8);
        String jobA = """
                import os, subprocess, sys, time
                with open("/tmp/secret.txt", "w") as f: f.write("%1$s")
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(8) # %1$s"],
                                         env={"KILN_SECRET": "%1$s"})
                print("A-READY", flush=True)
                time.sleep(0.2)
                child.wait()
                with open("/tmp/secret.txt") as f: print("A-INTACT" if f.read() == "%1$s" else "A-TAMPERED")
                """.formatted(secret);
        CompletableFuture<ExecutionResult> a = CompletableFuture.supplyAsync(() -> {
            try {
                return run(jobA);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        List<Long> hostPids = awaitHostPids(secret);
        String pids = hostPids.toString();
        ExecutionResult b = run(PRELUDE + """
                SECRET = "%s"
                found = []
                mine = {os.getpid(), os.getppid()}
                for entry in os.listdir("/proc"):
                    if not entry.isdigit(): continue
                    for leaf in ("cmdline", "environ"):
                        try:
                            with open("/proc/%%s/%%s" %% (entry, leaf), "rb") as f:
                                if SECRET.encode() in f.read(): found.append(entry + "/" + leaf)
                        except OSError:
                            pass
                for path in ("/tmp/secret.txt",):
                    try:
                        with open(path) as f:
                            if SECRET in f.read(): found.append(path)
                    except OSError:
                        pass
                report("neighbour_visible", -1 if found else 0, 0)
                print("FOUND", found)
                for pid in %s:
                    def kill(): os.kill(pid, signal.SIGKILL)
                    report_exc("kill_host_pid", kill)
                    def root():
                        with open("/proc/%%d/root/tmp/secret.txt" %% pid) as f: print("LEAK", f.read())
                    report_exc("proc_root", root)
                    def environ():
                        with open("/proc/%%d/environ" %% pid, "rb") as f: print("LEAK", f.read())
                    report_exc("proc_environ", environ)
                print("SURVIVED", flush=True)
                """.formatted(secret, pids));
        ExecutionResult resultA = a.get(45, TimeUnit.SECONDS);
        assertThat(b.status()).as(b.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(HostileProbes.probe(b, "neighbour_visible").ret()).as(b.stdout()).isZero();
        assertThat(b.stdout()).doesNotContain("LEAK");
        if (!hostPids.isEmpty()) {
            assertDenied(b, "kill_host_pid", "ESRCH", "EPERM");
            assertDenied(b, "proc_root", "ENOENT", "EACCES", "EPERM");
            assertDenied(b, "proc_environ", "ENOENT", "EACCES", "EPERM");
        }
        assertThat(resultA.status()).as(resultA.stderr()).isEqualTo(JobStatus.SUCCEEDED);
        assertThat(resultA.stdout()).contains("A-INTACT");
    }

    /**
     * Host pids of A's child (its command line holds the secret), waited for up to 20 s; an executor whose jobs do
     * not appear as host processes (gVisor) overrides this to return none at once.
     */
    protected List<Long> awaitHostPids(String marker) {
        try {
            await().atMost(java.time.Duration.ofSeconds(20)).pollInterval(java.time.Duration.ofMillis(50))
                    .until(() -> !SandboxTestSupport.processesWithMarker(marker).isEmpty());
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            return List.of();
        }
        return SandboxTestSupport.processesWithMarker(marker);
    }

    static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
