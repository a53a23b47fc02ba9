package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Reading the platforms a runsc build offers from its `runsc flags`. */
class RunscPlatformTest {
    @Test
    void the2022BuildOffersPtraceAndKvmOnly() {
        String debian2022 = """
                  -pcap-log string
                    \tlocation of PCAP log file.
                  -platform string
                    \tspecifies which platform to use: ptrace (default), kvm. (default "ptrace")
                  -platform_device_path string
                """;
        assertThat(RunscPlatform.offersSystrap(debian2022)).isFalse();
    }

    @Test
    void newerBuildsOfferSystrap() {
        String newer = """
                  -platform string
                    \tspecifies which platform to use: systrap (default), ptrace, kvm. (default "systrap")
                """;
        assertThat(RunscPlatform.offersSystrap(newer)).isTrue();
        assertThat(RunscPlatform.offersSystrap("no such flag")).isFalse();
    }
}
