package dev.kiln.cli;

import picocli.CommandLine;

/** Entry point of the runnable jar and of {@code ./kiln}. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        // first: the commands that mount re-execute themselves in a mount namespace of their own (when root)
        MountNamespace.enterOwn(args);
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new KilnCommand());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 2;
        });
        return cl;
    }
}
