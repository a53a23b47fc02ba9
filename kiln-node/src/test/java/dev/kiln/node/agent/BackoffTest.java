package dev.kiln.node.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
    @Test
    void doublesFrom100MillisTo5SecondsWithin20PercentAndStartsOverAfterReset() {
        Backoff backoff = new Backoff(new SplittableRandom(42));
        long[] bases = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
        for (int round = 0; round < 50; round++) {
            for (long base : bases) {
                assertThat(backoff.next().toMillis()).isBetween(Math.round(base * 0.8), Math.round(base * 1.2));
            }
            backoff.reset();
        }
    }

    @Test
    void delaysAreJittered() {
        Backoff backoff = new Backoff(new SplittableRandom(7));
        List<Long> firsts = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            firsts.add(backoff.next().toMillis());
            backoff.reset();
        }
        assertThat(firsts.stream().distinct().count()).isGreaterThan(1);
    }
}
