package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.client.JobRequest;
import dev.kiln.client.JobResponse;
import dev.kiln.core.JobType;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Warm pools through the whole server: jobs are served warm, and the pool's metrics are exposed. */
class WarmPoolServerTest {
    @Test
    void jobsAreServedWarmAndPoolMetricsAreExposed() throws Exception {
        assumeTrue(TestServer.bwrapUsable(), "needs /usr/bin/bwrap, root and cgroups (not available here)");
        JobType cold = new JobType("cold", 256L << 20, 1, 10, 10, 32, false, Map.of(), null, 64 << 10, 16L << 20,
                PackageSpec.NONE, new WarmPoolSpec(0, 1, 600));
        try (TestServer kiln = TestServer.start("bwrap", c -> c.withJobTypes(List.of(cold)))) {
            Awaitility.await().atMost(Duration.ofSeconds(20))
                    .until(() -> metric(kiln, "kiln_pool_ready", "default") >= 1);
            JobResponse warm = kiln.client.execute(JobRequest.python("print(1+1)"));
            assertThat(warm.stdout()).isEqualTo("2\n");
            assertThat(metric(kiln, "kiln_pool_hits_total", "default")).isGreaterThanOrEqualTo(1);

            JobResponse unpooled = kiln.client.execute(JobRequest.python("print(3)").withJobType("cold"));
            assertThat(unpooled.stdout()).isEqualTo("3\n");
            assertThat(kiln.get("/metrics").body()).doesNotContain("job_type=\"cold\"");
            assertThat(kiln.client.jobType("cold").at("/pool/size").asInt()).isZero();
            assertThat(kiln.client.jobType("default").at("/pool/size").isNull()).isTrue(); // the node's slots
        }
    }

    private static double metric(TestServer kiln, String name, String type) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{job_type=\"" + type + "\"} ([0-9.Ee+-]+)$")
                .matcher(kiln.get("/metrics").body());
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }
}
