package dev.kiln.cli;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import dev.kiln.server.KilnServer;
import dev.kiln.server.config.KilnConfig;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start Kiln in-process, run a sample Python job in a sandbox, print its result, stop.")
final class DemoCommand implements Callable<Integer> {
    static final String SAMPLE = """
            import json, platform, os
            with open("/input/data.json") as f:
                data = json.load(f)
            values = data["values"]
            result = {"sum": sum(values), "mean": sum(values) / len(values),
                      "python": platform.python_version(), "uid": os.getuid()}
            with open("/output/result.json", "w") as f:
                json.dump(result, f)
            print("hello from a Kiln sandbox:", result)
            """;

    @Option(names = "--port", defaultValue = "${env:KILN_PORT:-8000}", description = "Port (default 8000, "
            + "or a free one when taken)")
    int port;

    @Option(names = "--executor", defaultValue = "${env:KILN_EXECUTOR:-bwrap}", description = "bwrap, gvisor or noop")
    String executor;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path data = Files.createTempDirectory("kiln-demo-");
        KilnConfig config = KilnConfig.defaults().withDataDir(data).withExecutor(executor)
                .withHost("127.0.0.1").withPort(portAvailable(port) ? port : 0).withOwnCgroupParent("kiln-demo");
        try (KilnServer server = KilnServer.start(config)) {
            String url = server.baseUrl();
            out.println("Kiln is up: API " + url + "   health " + url + "/health   OpenAPI " + url + "/openapi.json");
            out.println("Running a sample Python job in a " + executor + " sandbox...");
            out.flush();
            JobResponse job = new KilnClient(url).execute(JobRequest.python(SAMPLE)
                    .withInputData(Map.of("values", java.util.List.of(1, 2, 3, 4, 5))));
            JobPrinter.human(out, job);
            out.println(job.success() ? "Demo job succeeded." : "Demo job did not succeed: " + job.status());
            out.println("Run `./kiln server` to keep Kiln running, then e.g.:");
            out.println("  curl -s localhost:8000/execute -H 'content-type: application/json' "
                    + "-d '{\"code\": \"print(1+1)\"}'");
            out.flush();
            return job.success() ? 0 : 1;
        } finally {
            dev.kiln.node.WorkRoots.discardTree(data);
        }
    }

    private static boolean portAvailable(int port) {
        try (ServerSocket s = new ServerSocket(port)) {
            s.setReuseAddress(true);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

}
