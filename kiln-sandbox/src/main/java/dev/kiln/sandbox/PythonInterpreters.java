package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Finds the host's Python interpreters a sandbox can run: {@code python3.N} in {@code /usr/bin} and
 * {@code /usr/local/bin} (the sandbox sees only {@code /usr}), each probed once for its full version (re-probed when
 * the binary changes).
 */
public final class PythonInterpreters {
    /** An interpreter by the path the sandbox runs it as, and its full version ("3.11.2"). */
    public record Interpreter(Path path, String version) {
        public Interpreter {
            Objects.requireNonNull(path, "path");
            Objects.requireNonNull(version, "version");
        }
    }

    /** What one run of the interpreter told about itself. */
    record Probe(String version, String basePrefix, String pipVersion) {
    }

    static final List<Path> SEARCH_DIRS = List.of(Path.of("/usr/bin"), Path.of("/usr/local/bin"));
    private static final Pattern VERSIONED_NAME = Pattern.compile("python3\\.\\d+");
    private static final Pattern REQUESTED = Pattern.compile("\\d{1,4}(\\.\\d{1,4}){0,2}");
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(20);
    private static final String PROBE_SCRIPT = String.join("\n",
            "import sys",
            "print('%d.%d.%d' % sys.version_info[:3])",
            "print(sys.base_prefix)",
            "try:",
            "    import pip",
            "    print(pip.__version__)",
            "except Exception:",
            "    print('')");

    private final Path defaultPython;
    private final List<Path> searchDirs;
    // real path -> (identity of the binary, probe)
    private final ConcurrentHashMap<Path, CachedProbe> probes = new ConcurrentHashMap<>();

    private record CachedProbe(String fileKey, Probe probe) {
    }

    /** {@code defaultPython}: what a null python version means (the executor's interpreter, normally /usr/bin/python3). */
    public PythonInterpreters(Path defaultPython) {
        this(defaultPython, SEARCH_DIRS);
    }

    PythonInterpreters(Path defaultPython, List<Path> searchDirs) {
        this.defaultPython = checkUnderUsr(defaultPython);
        this.searchDirs = List.copyOf(searchDirs);
    }

    private static Path checkUnderUsr(Path p) {
        Path n = p.toAbsolutePath().normalize();
        if (!n.startsWith("/usr/")) {
            throw new IllegalArgumentException("interpreter " + p + " is not under /usr, the only host tree the "
                    + "sandbox sees");
        }
        return n;
    }

    /**
     * {@code pythonVersion} is null (the default interpreter), or "3", "3.11", "3.11.2": the matching interpreter,
     * preferring the default one, else the highest version.
     *
     * @throws IllegalArgumentException when the text is not a version or no interpreter matches
     */
    public Interpreter resolve(String pythonVersion) {
        if (pythonVersion == null) {
            Probe p = probe(defaultPython);
            if (p == null) {
                throw new IllegalArgumentException("the default interpreter " + defaultPython + " does not run");
            }
            return new Interpreter(defaultPython, p.version());
        }
        String wanted = pythonVersion.strip();
        if (!REQUESTED.matcher(wanted).matches()) {
            throw new IllegalArgumentException("python_version '" + pythonVersion
                    + "' is not a version (examples: 3, 3.11, 3.11.2)");
        }
        List<Interpreter> all = available();
        List<Interpreter> matching = all.stream().filter(i -> matches(wanted, i.version())).toList();
        if (matching.isEmpty()) {
            String avail = all.isEmpty() ? "none" : all.stream().map(i -> i.version() + " (" + i.path() + ")")
                    .collect(Collectors.joining(", "));
            throw new IllegalArgumentException("python_version '" + pythonVersion
                    + "': no interpreter on this host matches; available: " + avail);
        }
        Probe def = probe(defaultPython);
        if (def != null && matches(wanted, def.version())) {
            Path defReal = realPath(defaultPython);
            for (Interpreter i : matching) {
                if (realPath(i.path()).equals(defReal)) return i;
            }
        }
        return matching.stream().max(Comparator.comparing(Interpreter::version, PythonInterpreters::compareVersions))
                .orElseThrow();
    }

    /** Every {@code python3.N} under the search dirs that runs and lives under /usr, lowest version first. */
    public List<Interpreter> available() {
        List<Interpreter> found = new ArrayList<>();
        for (Path dir : searchDirs) {
            List<Path> names;
            try (Stream<Path> s = Files.list(dir)) {
                names = s.filter(p -> VERSIONED_NAME.matcher(p.getFileName().toString()).matches())
                        .filter(Files::isExecutable).sorted().toList();
            } catch (IOException e) {
                continue;
            }
            for (Path p : names) {
                Probe probe = probe(p);
                if (probe != null) found.add(new Interpreter(p, probe.version()));
            }
        }
        found.sort(Comparator.comparing(Interpreter::version, PythonInterpreters::compareVersions));
        return found;
    }

    /** pip's version for the interpreter ("" when it has no pip). */
    String pipVersion(Interpreter interpreter) {
        Probe p = probe(interpreter.path());
        return p == null ? "" : p.pipVersion();
    }

    /** The resolved file the path names (symlinks followed); the path itself when that fails. */
    static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p;
        }
    }

    /** Null when the binary does not run, or lives (or keeps its standard library) outside /usr. */
    Probe probe(Path path) {
        Path real = realPath(path);
        if (!real.startsWith("/usr/") || !Files.isExecutable(real)) return null;
        String key = fileKey(real);
        CachedProbe cached = probes.get(real);
        if (cached != null && cached.fileKey().equals(key)) return cached.probe();
        var outcome = HostCommand.run(List.of(real.toString(), "-I", "-c", PROBE_SCRIPT), PROBE_TIMEOUT);
        if (!outcome.ok()) return null;
        List<String> lines = outcome.output().lines().toList();
        if (lines.size() < 2 || !lines.get(0).matches("\\d+\\.\\d+\\.\\d+")) return null;
        Probe probe = new Probe(lines.get(0), lines.get(1), lines.size() > 2 ? lines.get(2).strip() : "");
        if (!Path.of(probe.basePrefix()).normalize().startsWith("/usr")) return null;
        probes.put(real, new CachedProbe(key, probe));
        return probe;
    }

    private static String fileKey(Path real) {
        try {
            return Files.size(real) + "/" + Files.getLastModifiedTime(real) + "/" + Files.getAttribute(real, "unix:ino");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "";
        }
    }

    /** "3.11" matches "3.11.x"; "3.11.2" only "3.11.2"; component-wise, so "3.1" does not match "3.11.0". */
    static boolean matches(String wanted, String full) {
        String[] w = wanted.split("\\.");
        String[] f = full.split("\\.");
        if (w.length > f.length) return false;
        for (int i = 0; i < w.length; i++) {
            if (Integer.parseInt(w[i]) != Integer.parseInt(f[i])) return false;
        }
        return true;
    }

    static int compareVersions(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0, i < y.length ? Integer.parseInt(y[i]) : 0);
            if (c != 0) return c;
        }
        return 0;
    }
}
