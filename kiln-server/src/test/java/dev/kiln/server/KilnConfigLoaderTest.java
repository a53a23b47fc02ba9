package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.JobType;
import dev.kiln.server.config.ConfigException;
import dev.kiln.server.config.KilnConfig;
import dev.kiln.server.config.KilnConfigLoader;
import dev.kiln.store.StoreLocation;
import org.junit.jupiter.api.Test;

class KilnConfigLoaderTest {
    private static KilnConfig parse(String yaml) {
        return KilnConfigLoader.parseYaml("kiln.yaml", yaml, KilnConfig.defaults());
    }

    @Test
    void readsJobTypesAndLimits() {
        KilnConfig c = parse("""
                port: 9000
                max_queue_size: 5
                limits: {max_code_size: 2k, max_stdout: 1m}
                job_types:
                  - name: data
                    memory_limit: 1g
                    cpu_limit: 2.0
                    timeout: 60
                    network_enabled: true
                    environment: {OMP_NUM_THREADS: 2}
                """);
        assertThat(c.port()).isEqualTo(9000);
        assertThat(c.maxQueueSize()).isEqualTo(5);
        assertThat(c.requestLimits().maxCodeBytes()).isEqualTo(2048);
        assertThat(c.outputLimits().maxStdoutBytes()).isEqualTo(1L << 20);
        JobType t = c.jobTypes().getFirst();
        assertThat(t.memoryLimitBytes()).isEqualTo(1L << 30);
        assertThat(t.maxTimeoutSeconds()).isEqualTo(300);
        assertThat(t.networkEnabled()).isTrue();
        assertThat(t.environment()).containsEntry("OMP_NUM_THREADS", "2");
    }

    @Test
    void gvisorIsAnExecutorOfAJobTypeOrTheServer() {
        KilnConfig c = parse("executor: gvisor\njob_types: [{name: a, executor: gvisor}, {name: b, executor: bwrap, "
                + "network_enabled: true}]");
        assertThat(c.executor()).isEqualTo("gvisor");
        assertThat(c.jobTypes()).extracting(dev.kiln.core.JobType::executor).containsExactly("gvisor", "bwrap");
    }

    @Test
    void queueTimeoutForTheServerAndPerJobType() {
        KilnConfig c = parse("queue_timeout: 120\njob_types: [{name: a, queue_timeout: 5}, {name: b}]");
        assertThat(c.queueTimeoutSeconds()).isEqualTo(120);
        assertThat(c.jobTypes().get(0).queueTimeoutSeconds()).isEqualTo(5);
        assertThat(c.jobTypes().get(1).queueTimeoutSeconds()).isNull();
        assertThat(KilnConfig.defaults().queueTimeoutSeconds()).isEqualTo(3600);
        assertThatThrownBy(() -> parse("queue_timeout: 0")).hasMessageContaining("queue_timeout");
        assertThatThrownBy(() -> parse("job_types: [{name: a, queue_timeout: 604801}]"))
                .hasMessageContaining("job_types[0].queue_timeout");
    }

    @Test
    void rejectsBadValuesNamingFileFieldAndWhy() {
        assertThatThrownBy(() -> parse("job_types: [{name: a, memory_limit: 5x}]"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("kiln.yaml: job_types[0].memory_limit: '5x' is not a size (examples: 512m, 1g, 65536)");
        assertThatThrownBy(() -> parse("job_types: [{name: a, timeout: 60, max_timeout: 10}]"))
                .hasMessageContaining("job_types[0].max_timeout: must be at least timeout (60)");
        assertThatThrownBy(() -> parse("job_types: [{name: a}, {name: a}]"))
                .hasMessageContaining("job_types[1].name: duplicate job type 'a'");
        assertThatThrownBy(() -> parse("job_types: [{memory_limit: 1g}]"))
                .hasMessageContaining("job_types[0].name: is required");
        assertThatThrownBy(() -> parse("job_types: [{name: a, memmory_limit: 1g}]"))
                .hasMessageContaining("job_types[0].memmory_limit: unknown field");
        assertThatThrownBy(() -> parse("job_types: [{name: a, environment: {PYTHONPATH: /x}}]"))
                .hasMessageContaining("cannot be overridden");
        assertThatThrownBy(() -> parse("prot: 8000")).hasMessageContaining("kiln.yaml: prot: unknown field");
        assertThatThrownBy(() -> parse("port: 70000")).hasMessageContaining("port: must be between 0 and 65535");
        assertThatThrownBy(() -> parse("executor: docker"))
                .hasMessageContaining("executor: must be bwrap, gvisor or noop, got 'docker'");
        assertThatThrownBy(() -> parse("job_types: [{name: a, executor: firecracker}]"))
                .hasMessageContaining("job_types[0].executor: must be bwrap, gvisor or noop");
        assertThatThrownBy(() -> parse("job_types: [{name: a}, {name: b, executor: gvisor, network_enabled: true}]"))
                .hasMessageContaining("job_types[1].network_enabled: cannot be true on the gvisor executor yet");
        assertThatThrownBy(() -> parse("executor: gvisor\njob_types: [{name: a, network_enabled: true}]"))
                .hasMessageContaining("job_types[0].network_enabled: cannot be true on the gvisor executor yet");
        assertThatThrownBy(() -> parse("job_types: [{name: a}, {name: b, python_version: '3.99'}]"))
                .hasMessageStartingWith("kiln.yaml: job_types[1].python_version: python_version '3.99': no "
                        + "interpreter on this host matches; available:");
        assertThatThrownBy(() -> parse("job_types: [{name: a, requirements: ['-r /etc/shadow']}]"))
                .hasMessageContaining("job_types[0].requirements: entry 0 '-r /etc/shadow' is not a requirement");
        assertThatThrownBy(() -> parse("job_types: [{name: a, shared_code: [no/such/file.py]}]"))
                .hasMessageContaining("job_types[0].shared_code: 'no/such/file.py' does not exist");
        assertThatThrownBy(() -> parse("pip: {find_links: [/no/such/dir]}"))
                .hasMessageContaining("pip.find_links: '/no/such/dir' is not a directory");
    }

    @Test
    void uidRangeIsReadAndCheckedAgainstTheSandboxesThatMayLiveAtOnce() {
        assertThat(parse("port: 1").sandbox().uidRange()).isEqualTo(dev.kiln.sandbox.SandboxUidRange.DEFAULT);
        KilnConfig c = parse("slots: 2\nsandbox: {uid_range: \"300000-300009\"}\n"
                + "job_types: [{name: a, pool_size: 3}, {name: b, executor: noop, pool_size: 50}]");
        assertThat(c.sandbox().uidRange()).isEqualTo(new dev.kiln.sandbox.SandboxUidRange(300000, 300009));
        assertThat(SandboxUidCheck.sandboxesAtOnce(c)).as("2 slots + pool of a + 1 build").isEqualTo(6);
        SandboxUidCheck.requireEnough(c);
        assertThatThrownBy(() -> SandboxUidCheck.requireEnough(c.withSlots(7)))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("sandbox.uid_range"))
                .hasMessageContaining("holds 10 uids but up to 11 sandboxes may live at once");
        assertThatThrownBy(() -> parse("sandbox: {uid_range: \"0-100\"}"))
                .hasMessageContaining("sandbox.uid_range: must not include uid 0");
        assertThatThrownBy(() -> parse("sandbox: {uid_range: \"65000-66000\"}"))
                .hasMessageContaining("sandbox.uid_range: must not include 65534");
        assertThatThrownBy(() -> parse("sandbox: {uid_range: lots}"))
                .hasMessageContaining("sandbox.uid_range: must look like");
    }

    @Test
    void networkAllowListsAreParsedAndEachBadEntryIsNamed() {
        KilnConfig c = parse("""
                job_types:
                  - name: web
                    network_enabled: true
                    network: {allow: [pypi.org, "10.1.2.0/24", "example.com:443"]}
                  - name: open
                    network_enabled: true
                """);
        assertThat(c.jobTypes().get(0).network().allowTexts()).containsExactly("pypi.org", "10.1.2.0/24",
                "example.com:443");
        assertThat(c.jobTypes().get(1).network().restricted()).isFalse();
        assertThatThrownBy(() -> parse("job_types: [{name: a, network_enabled: true, "
                + "network: {allow: [pypi.org, '10.0.0.0/8', '*.example.com']}}]"))
                .isInstanceOfSatisfying(ConfigException.class,
                        e -> assertThat(e.field()).isEqualTo("job_types[0].network.allow[2]"))
                .hasMessageStartingWith("kiln.yaml: job_types[0].network.allow[2]: '*.example.com' is not allowed: "
                        + "wildcards are not supported")
                .hasMessageContaining("use a domain (pypi.org), an IP address or CIDR block");
        assertThatThrownBy(() -> parse("job_types: [{name: a, network: {allow: [pypi.org]}}]"))
                .hasMessage("kiln.yaml: job_types[0].network.allow: needs network_enabled: true");
        assertThatThrownBy(() -> parse("job_types: [{name: a, network_enabled: true, network: {deny: [x]}}]"))
                .hasMessageContaining("job_types[0].network.deny: unknown field");
        var json = new tools.jackson.databind.ObjectMapper();
        JobType runtime = KilnConfigLoader.runtimeJobType("rt", json.readTree(
                "{\"network_enabled\": true, \"network\": {\"allow\": [\"203.0.113.0/24:443\"]}}"));
        assertThat(runtime.network().allowTexts()).containsExactly("203.0.113.0/24:443");
        assertThatThrownBy(() -> KilnConfigLoader.runtimeJobType("rt", json.readTree(
                "{\"network_enabled\": true, \"network\": {\"allow\": [\"ok.example\", \"1.2.3.4:99999\"]}}")))
                .isInstanceOfSatisfying(ConfigException.class,
                        e -> assertThat(e.field()).isEqualTo("network.allow[1]"))
                .hasMessageContaining("the port must be a number from 1 to 65535");
    }

    @Test
    void storeIsSqliteByDefaultOrAPostgresUrl() {
        assertThat(parse("port: 1").store()).isEqualTo(StoreLocation.SQLITE);
        assertThat(parse("store: sqlite").store()).isEqualTo(StoreLocation.SQLITE);
        StoreLocation pg = parse("store: postgresql://kiln:s%40cret@db:6543/jobs?sslmode=require").store();
        assertThat(pg).isEqualTo(new StoreLocation.Postgres("db", 6543, "jobs", "kiln", "s@cret",
                java.util.Map.of("sslmode", "require")));
        assertThat(parse("store: postgres://kiln@db/jobs").store().inDataDirectory()).isFalse();
    }

    @Test
    void aMalformedStoreNamesTheFieldAndWhatIsExpectedButNotThePassword() {
        assertThatThrownBy(() -> parse("store: postgresql://kiln:hunter2@db:port/jobs"))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.field()).isEqualTo("store"))
                .hasMessageStartingWith("kiln.yaml: store: the port must be a number from 1 to 65535; expected "
                        + "postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> parse("store: mysql://kiln:hunter2@db/jobs"))
                .hasMessageStartingWith("kiln.yaml: store: it must start with postgresql://")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("hunter2"));
        assertThatThrownBy(() -> parse("store: [a]")).hasMessage("kiln.yaml: store: must be a string");
    }
}
