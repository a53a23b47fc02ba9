package dev.kiln.cli;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.json.JsonMapper;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run Python code and print the result.",
                "  kiln run python -c 'print(1+1)'",
                "  kiln run python script.py [--input data.json]   (sends script.py's directory under /input)"})
final class RunCommand extends ClientCommand {
    static final int MAX_DIR_FILES = 100;
    static final long MAX_DIR_BYTES = 8L << 20;

    @Parameters(index = "0", description = "Language: python")
    String language;

    @Parameters(index = "1", arity = "0..1", description = "Python file to run")
    Path file;

    @Option(names = "-c", description = "Code to run")
    String code;

    @Option(names = "--input", description = "JSON file passed as input_data (/input/data.json)")
    Path input;

    @Option(names = "--job-type", description = "Job type (default: default)")
    String jobType;

    @Option(names = "--timeout", description = "Timeout in seconds")
    Integer timeout;

    @Override
    public Integer call() throws IOException {
        if (!language.equals("python")) throw new IllegalArgumentException("only 'python' is supported, got '"
                + language + "'");
        if ((code == null) == (file == null)) throw new IllegalArgumentException("give either -c CODE or FILE.py");
        JobRequest request = code != null ? JobRequest.python(code) : fromFile(file);
        if (input != null) request = request.withInputData(new JsonMapper().readTree(Files.readString(input)));
        request = request.withJobType(jobType).withTimeout(timeout);
        JobResponse job = kiln().execute(request);
        show(job);
        return job.success() ? 0 : 1;
    }

    static JobRequest fromFile(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + " is not a file");
        Path dir = file.toAbsolutePath().getParent();
        Map<String, byte[]> files = new TreeMap<>();
        long[] total = {0};
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                return d.equals(dir) || !d.getFileName().toString().startsWith(".")
                        && !d.getFileName().toString().equals("__pycache__")
                        ? FileVisitResult.CONTINUE : FileVisitResult.SKIP_SUBTREE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                if (!attrs.isRegularFile() || f.getFileName().toString().startsWith(".")) return FileVisitResult.CONTINUE;
                String rel = dir.relativize(f).toString().replace('\\', '/');
                if (rel.equals("data.json")) return FileVisitResult.CONTINUE; // reserved for --input
                total[0] += attrs.size();
                if (files.size() + 1 > MAX_DIR_FILES || total[0] > MAX_DIR_BYTES) {
                    throw new IllegalArgumentException(dir + " holds more than " + MAX_DIR_FILES + " files or "
                            + (MAX_DIR_BYTES >> 20) + " MiB; run the script from a smaller directory");
                }
                files.put(rel, Files.readAllBytes(f));
                return FileVisitResult.CONTINUE;
            }
        });
        return JobRequest.python(Files.readString(file)).withFiles(files);
    }
}
