package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class LayerBuildCommandTest {
    @TempDir
    Path temp;

    private final LayerBuildCommand command = new LayerBuildCommand(BwrapConfig.defaults());
    private final LayerBuildCommand.Dirs dirs = new LayerBuildCommand.Dirs(Path.of("/data/layers/.build-x/site"),
            Path.of("/data/layers/.build-x/tmp"), Path.of("/data/layers/.build-x/etc"));
    private final PythonInterpreters.Interpreter python = new PythonInterpreters.Interpreter(Path.of("/usr/bin/python3.11"),
            "3.11.2");

    private static int indexOfPair(List<String> argv, String a, String b) {
        return Collections.indexOfSubList(argv, List.of(a, b));
    }

    @Test
    void pipSourcesMapToPipFlags() {
        PipSources all = new PipSources("https://idx/simple", List.of("https://extra/simple"),
                List.of(Path.of("/w1"), Path.of("/w2")), true);
        assertThat(all.pipArgs(List.of("/a", "/b"))).containsExactly("--no-index", "--index-url", "https://idx/simple",
                "--extra-index-url", "https://extra/simple", "--find-links", "/a", "--find-links", "/b");
        assertThat(PipSources.DEFAULT.pipArgs(List.of())).isEmpty();
        assertThat(PipSources.DEFAULT.needsNetwork()).isTrue();
        assertThat(all.needsNetwork()).isFalse();
    }

    @Test
    void offlineBuildsHaveNoNetworkAndSeeWheelsReadOnly() throws IOException {
        Path wheels = Files.createDirectory(temp.resolve("wheels"));
        Path index = Files.writeString(temp.resolve("links.html"), "<html></html>");
        PipSources sources = PipSources.localOnly(List.of(wheels, index));
        List<String> pip = LayerBuildCommand.pipInstall(python, sources, List.of("numpy==2.0", "requests"));
        List<String> argv = command.build(dirs, List.of(Path.of("/sys/fs/cgroup/pids/kiln/b/cgroup.procs")), true,
                sources, pip);

        assertThat(argv.subList(0, 6)).containsExactly("/bin/sh", "-c", BwrapCommand.WRAPPER, "sh", "1",
                "/sys/fs/cgroup/pids/kiln/b/cgroup.procs");
        assertThat(argv).contains("/usr/bin/setpriv", "--reuid=65534", "--unshare-all", "--die-with-parent",
                "--clearenv").doesNotContain("--share-net", "/etc/resolv.conf");
        assertThat(indexOfPair(argv, "--ro-bind", "/usr")).isPositive();
        assertThat(indexOfPair(argv, dirs.site().toString(), "/kiln/site")).isEqualTo(argv.indexOf(dirs.site().toString()));
        assertThat(argv.get(argv.indexOf(dirs.site().toString()) - 1)).isEqualTo("--bind");
        assertThat(argv.get(argv.indexOf(dirs.tmp().toString()) - 1)).isEqualTo("--bind");
        assertThat(indexOfPair(argv, dirs.tmp().toString(), "/tmp")).isPositive();
        assertThat(indexOfPair(argv, wheels.toString(), "/kiln/find-links/0")).isEqualTo(argv.indexOf(wheels.toString()));
        assertThat(argv.get(argv.indexOf(wheels.toString()) - 1)).isEqualTo("--ro-bind");
        assertThat(indexOfPair(argv, index.toString(), "/kiln/find-links/1/links.html")).isPositive();
        assertThat(indexOfPair(argv, "--remount-ro", "/")).isPositive();
        assertThat(argv.subList(argv.indexOf("/usr/bin/python3.11"), argv.size())).containsExactly(
                "/usr/bin/python3.11", "-m", "pip", "install", "--isolated", "--no-input", "--no-cache-dir",
                "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off",
                "--target", "/kiln/site", "--no-index", "--find-links", "/kiln/find-links/0",
                "--find-links", "/kiln/find-links/1/links.html", "numpy==2.0", "requests");
        assertThat(argv).noneMatch(a -> a.startsWith("/root") || a.startsWith("/home") || a.equals("/etc/shadow"));
    }

    @Test
    void indexBuildsGetTheNetworkAndNameResolution() {
        PipSources sources = new PipSources("https://pypi.example/simple", List.of(), List.of(), false);
        UserNetwork.Setup network = new UserNetwork.Setup(List.of("/usr/bin/pasta", "--"), null);
        List<String> argv = command.build(dirs, List.of(), false, sources, network, List.of("/usr/bin/python3", "-V"));

        assertThat(argv).doesNotContain("/usr/bin/setpriv");
        assertThat(argv.subList(5, 7)).containsExactly("/usr/bin/pasta", "--");
        assertThat(argv.get(argv.indexOf("--unshare-all") + 1)).isEqualTo("--share-net");
        assertThat(LayerBuildSandbox.indexHosts(sources)).extracting(Object::toString).containsExactly("pypi.example:443");
        if (Files.exists(Path.of("/etc/resolv.conf"))) {
            assertThat(indexOfPair(argv, "/etc/resolv.conf", "/etc/resolv.conf")).isPositive();
        }
    }

    @Test
    void jobsOnALayerSeeItReadOnlyAndRunItsInterpreter() {
        Layer layer = new Layer("d".repeat(64), Path.of("/data/layers/d"), Path.of("/data/layers/d/site"),
                Path.of("/data/layers/d/shared"), python);
        BwrapCommand job = new BwrapCommand(BwrapConfig.defaults());
        WorkDirLayout layout = WorkDirLayout.of(Path.of("/data/work/e1"));
        List<String> argv = job.build(layout, List.of(), true, false, Map.of(), 1 << 20, layer);

        assertThat(indexOfPair(argv, "--ro-bind", "/data/layers/d/site")).isEqualTo(
                indexOfPair(argv, "/data/layers/d/site", "/kiln/site") - 1);
        assertThat(indexOfPair(argv, "--ro-bind", "/data/layers/d/shared")).isEqualTo(
                indexOfPair(argv, "/data/layers/d/shared", "/kiln/shared") - 1);
        assertThat(indexOfPair(argv, "PYTHONPATH", "/input:/kiln/shared:/kiln/site")).isPositive();
        assertThat(indexOfPair(argv, "PYTHONPATH", "/input")).isNegative();
        assertThat(argv.subList(argv.size() - 3, argv.size())).containsExactly("/usr/bin/python3.11", "-u", "/code/main.py");

        Layer noShared = new Layer(layer.digest(), layer.dir(), layer.sitePackages(), null, python);
        assertThat(job.build(layout, List.of(), true, false, Map.of(), 1 << 20, noShared)).doesNotContain("/kiln/shared");
        List<String> bare = job.build(layout, List.of(), true, false, Map.of(), 1 << 20);
        assertThat(bare).doesNotContain("/kiln/site");
        assertThat(indexOfPair(bare, "PYTHONPATH", "/input")).isPositive();
    }
}
