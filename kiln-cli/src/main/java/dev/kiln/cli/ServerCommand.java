package dev.kiln.cli;

import dev.kiln.server.KilnServer;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Run the orchestrator with an in-process compute node until stopped.")
final class ServerCommand implements java.util.concurrent.Callable<Integer> {
    @Mixin
    ServerOptions options;

    @Override
    public Integer call() throws InterruptedException {
        KilnServer server = KilnServer.start(options.resolve());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "kiln-shutdown"));
        System.out.println("Kiln is running: API " + server.baseUrl() + "  health " + server.baseUrl()
                + "/health  metrics " + server.baseUrl() + "/metrics");
        stopped.await();
        return 0;
    }
}
