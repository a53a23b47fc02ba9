package dev.kiln.cli;

import picocli.CommandLine.Command;

@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Kiln: run untrusted code in hardened, single-use sandboxes.",
        subcommands = {ServerCommand.class, DemoCommand.class, RunCommand.class, JobCommand.class, JobTypeCommand.class,
                NodeCommand.class, DevstackCommand.class, GcCommand.class, KeyCommand.class, DoctorCommand.class,
                dev.kiln.cli.bench.BenchCommand.class})
final class KilnCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
