package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.server.KilnServer;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.SandboxSettings;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The CLI against a real server with real sandboxes: run -c, run FILE.py with its directory, job list/get/cancel. */
class CliCommandsTest {
    private static KilnServer server;
    private static Path data;

    @TempDir
    Path work;

    record Result(int exit, String out, String err) {
    }

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/bwrap")) && "root".equals(System.getProperty("user.name")),
                "needs /usr/bin/bwrap and root for real sandboxes (not available here)");
        data = Files.createTempDirectory("kiln-cli-test-");
        server = KilnServer.start(KilnConfig.defaults().withDataDir(data).withHost("127.0.0.1").withPort(0)
                .withSandbox(new SandboxSettings(SandboxSettings.DEFAULTS.python(), SandboxSettings.DEFAULTS.bwrap(),
                        "kiln-cli-" + UUID.randomUUID().toString().substring(0, 8))));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) server.close();
        if (data != null) dev.kiln.node.WorkRoots.discardTree(data);
    }

    private static Result kiln(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--server";
        all[args.length + 1] = server.baseUrl();
        int exit = cl.execute(all);
        return new Result(exit, out.toString(), err.toString());
    }

    @Test
    void jobOutputFollowsARunningJobAndExitsWithItsCode() {
        dev.kiln.client.KilnClient client = new dev.kiln.client.KilnClient(server.baseUrl());
        String id = client.submit(dev.kiln.client.JobRequest.python(
                "import sys, time\nprint('one', flush=True)\ntime.sleep(0.5)\nprint('two')\n"
                        + "print('bad', file=sys.stderr)\nsys.exit(3)")).jobId();
        Result r = kiln("job", "output", id);
        assertThat(r.out()).isEqualTo("one\ntwo\n");
        assertThat(r.err()).contains("bad\n").contains("ended failed");
        assertThat(r.exit()).isEqualTo(3);
    }

    @Test
    void gcDeletesFinishedJobsOlderThanTheAge() {
        Result none = kiln("gc", "--older-than", "1d");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.out()).contains("deleted 0 finished job(s) older than 1d");
        Result bad = kiln("gc", "--older-than", "soon");
        assertThat(bad.exit()).isNotZero();
        assertThat(bad.err()).contains("older_than");
    }

    @Test
    void runInlineCode() {
        Result r = kiln("run", "python", "-c", "print(1+1)");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("succeeded").contains("--- stdout ---\n2\n");
    }

    @Test
    void runAFileWithItsDirectoryAndInput() throws Exception {
        Files.writeString(work.resolve("helper.py"), "def double(x):\n    return 2 * x\n");
        Files.createDirectories(work.resolve("pkg"));
        Files.writeString(work.resolve("pkg/values.txt"), "21");
        Files.writeString(work.resolve("main.py"), """
                import json, helper
                n = int(open('pkg/values.txt').read())
                data = json.load(open('/input/data.json'))
                json.dump({'answer': helper.double(n), 'name': data['name']}, open('/output/result.json', 'w'))
                """);
        Path input = Files.writeString(Files.createTempFile("input", ".json"), "{\"name\": \"kiln\"}");
        Result r = kiln("run", "python", work.resolve("main.py").toString(), "--input", input.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"answer\" : 42").contains("\"name\" : \"kiln\"");
    }

    @Test
    void failingJobExitsNonZero() {
        Result r = kiln("run", "python", "-c", "raise SystemExit(4)");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("failed").contains("exit code: 4");
    }

    @Test
    void jobListGetAndCancel() {
        Result run = kiln("run", "python", "-c", "print('listed')", "--json");
        String id = run.out().replaceAll("(?s).*\"job_id\" : \"([^\"]+)\".*", "$1");
        assertThat(kiln("job", "list").out()).contains(id).contains("succeeded");
        assertThat(kiln("job", "get", id).out()).contains("listed");
        Result executions = kiln("job", "executions", id);
        assertThat(executions.exit()).as(executions.err()).isZero();
        assertThat(executions.out()).contains("ATTEMPT").containsPattern("(?m)^1 +\\S+ +succeeded ");
        Result cancel = kiln("job", "cancel", id);
        assertThat(cancel.exit()).isNotZero();
        assertThat(cancel.err()).contains("already finished");
        Result missing = kiln("job", "get", "nope");
        assertThat(missing.exit()).isNotZero();
        assertThat(missing.err()).contains("not found");
    }

    @Test
    void jobTypeListDescribeAndBuild() {
        Result list = kiln("job-type", "list");
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("NAME").contains("default").contains("built_in").contains("none");
        assertThat(kiln("job-type", "describe", "default").out()).contains("\"memory_limit\" : \"512m\"");
        Result build = kiln("job-type", "build", "default");
        assertThat(build.exit()).isZero();
        assertThat(build.out()).contains("needs no layer");
        Result missing = kiln("job-type", "describe", "nope");
        assertThat(missing.exit()).isNotZero();
        assertThat(missing.err()).contains("unknown job type 'nope'");
    }

    @Test
    void nodeListDrainAndResume() {
        Result list = kiln("node", "list");
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("NODE").contains("local").contains("ready").contains("arch=");
        assertThat(kiln("node", "drain", "local").out()).containsAnyOf("node local: drained", "node local: draining");
        assertThat(kiln("node", "resume", "local").out()).contains("node local: ready");
        assertThat(kiln("node", "describe", "local").out()).contains("\"capacity\"");
    }
}
