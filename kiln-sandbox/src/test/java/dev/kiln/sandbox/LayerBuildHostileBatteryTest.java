package dev.kiln.sandbox;

import dev.kiln.core.ErrorType;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import dev.kiln.core.JobStatus;
import dev.kiln.core.PackageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hostile battery inside a layer build, where pip runs arbitrary build code: each probe is the build backend
 * of an sdist of its own (PEP 517, in-tree, no build requirements, so no index is needed). The backend runs the
 * probe, then builds a wheel holding what the probe printed; the test reads that back from the built layer.
 */
class LayerBuildHostileBatteryTest extends HostileBattery {
    @TempDir
    static Path temp;

    private static Path sdists;
    private static LayerStore store;
    private static final AtomicInteger RUNS = new AtomicInteger();

    @BeforeAll
    static void setUp() throws IOException {
        SandboxTestSupport.assumeSandboxUsable();
        assumeTrue(HostCommand.run(List.of("/usr/bin/python3", "-m", "pip", "--version"), Duration.ofSeconds(30)).ok(),
                "/usr/bin/python3 -m pip is not available");
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        sdists = Files.createDirectory(temp.resolve("sdists"));
        Files.setPosixFilePermissions(sdists, PosixFilePermissions.fromString("rwxr-xr-x"));
        BwrapConfig config = BwrapConfig.defaults().withCgroupParent(SandboxTestSupport.uniqueParent());
        store = new LayerStore(temp.resolve("layers"), config, PipSources.localOnly(List.of(sdists)));
    }

    @AfterAll
    static void tearDown() {
        if (store != null) store.close();
    }

    private static final String BACKEND = """
            import base64, hashlib, os, subprocess, sys, zipfile
            NAME, VERSION, CODE = %s, "1.0", base64.b64decode(%s).decode()
            def _b64(data):
                return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
                p = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=40, cwd="/tmp")
                result = "EXIT %%d\\n%%s\\x00%%s" %% (p.returncode, p.stdout, p.stderr)
                info = NAME + "-" + VERSION + ".dist-info"
                files = {NAME + "/__init__.py": b"", NAME + "/probe_result.txt": result.encode(),
                         info + "/METADATA": ("Metadata-Version: 2.1\\nName: %%s\\nVersion: %%s\\n" %% (NAME, VERSION)).encode(),
                         info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: kiln-probe\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
                record = "".join("%%s,sha256=%%s,%%d\\n" %% (k, _b64(v), len(v)) for k, v in files.items()) + info + "/RECORD,,\\n"
                files[info + "/RECORD"] = record.encode()
                name = "%%s-%%s-py3-none-any.whl" %% (NAME, VERSION)
                with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
                    for k, v in files.items(): z.writestr(k, v)
                return name
            """;

    @Override
    protected ExecutionResult run(String python) throws Exception {
        String name = "kilnprobe" + RUNS.incrementAndGet();
        Path src = Files.createDirectories(temp.resolve("src").resolve(name + "-1.0"));
        Files.writeString(src.resolve("pyproject.toml"), "[build-system]\nrequires = []\n"
                + "build-backend = \"kiln_probe_backend\"\nbackend-path = [\".\"]\n");
        String code = Base64.getEncoder().encodeToString(python.getBytes(StandardCharsets.UTF_8));
        Files.writeString(src.resolve("kiln_probe_backend.py"), BACKEND.formatted("\"" + name + "\"", "\"" + code + "\""));
        Files.writeString(src.resolve("PKG-INFO"), "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n");
        Path sdist = sdists.resolve(name + "-1.0.tar.gz");
        var tar = HostCommand.run(List.of("/usr/bin/tar", "-czf", sdist.toString(), "-C", src.getParent().toString(),
                "--owner=0", "--group=0", "--mode=a+rX", name + "-1.0"), Duration.ofSeconds(30));
        assertThat(tar.ok()).as(tar.output()).isTrue();
        Files.setPosixFilePermissions(sdist, WorkDirLayout.FILE_644);

        BuildOutcome out = store.build(new PackageSpec(null, List.of(name + "==1.0"), List.of()), null);
        assertThat(out.success()).as("the build survives its probes: " + out.error() + "\n" + out.log()).isTrue();
        String result = Files.readString(out.layer().sitePackages().resolve(name).resolve("probe_result.txt"));
        int exit = Integer.parseInt(result.substring(5, result.indexOf('\n')));
        String stdout = result.substring(result.indexOf('\n') + 1, result.indexOf('\0'));
        String stderr = result.substring(result.indexOf('\0') + 1);
        // what the build backend saw, in the shape the battery reads
        JobError error = exit == 0 ? null : new JobError(ErrorType.RUNTIME_ERROR, "probe exited with " + exit,
                JobError.PHASE_EXECUTION);
        return new ExecutionResult(exit == 0 ? JobStatus.SUCCEEDED : JobStatus.FAILED, exit, stdout, stderr, false,
                false, null, error, 0, out.millis(), List.of());
    }
}
