package dev.kiln.cli;

import dev.kiln.client.JobResponse;
import dev.kiln.client.KilnClient;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A command that talks to a running server: --server and --json, and printing for humans or machines. */
abstract class ClientCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Spec
    CommandSpec spec;

    KilnClient kiln() {
        return client.client();
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    boolean json() {
        return client.json;
    }

    void show(JobResponse job) {
        if (client.json) JobPrinter.json(out(), job); else JobPrinter.human(out(), job);
    }
}
