package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class JobStatusTest {
    @Test
    void terminalStatesAllowNoTransition() {
        for (JobStatus s : JobStatus.terminal()) {
            for (JobStatus t : JobStatus.values()) assertThat(s.canTransitionTo(t)).as(s + "->" + t).isFalse();
        }
    }

    @Test
    void queuedRunsOrIsCancelledAndRunningMayBeRequeued() {
        assertThat(JobStatus.QUEUED.canTransitionTo(JobStatus.RUNNING)).isTrue();
        assertThat(JobStatus.QUEUED.canTransitionTo(JobStatus.CANCELLED)).isTrue();
        assertThat(JobStatus.QUEUED.canTransitionTo(JobStatus.SUCCEEDED)).isFalse();
        assertThat(JobStatus.RUNNING.canTransitionTo(JobStatus.QUEUED)).isTrue();
        assertThat(JobStatus.RUNNING.canTransitionTo(JobStatus.OOM)).isTrue();
    }

    @Test
    void wireNamesRoundTrip() {
        for (JobStatus s : JobStatus.values()) assertThat(JobStatus.fromWire(s.wireName())).isEqualTo(s);
        assertThat(ErrorType.EXECUTION_TIMEOUT.wireName()).isEqualTo("execution_timeout");
    }
}
