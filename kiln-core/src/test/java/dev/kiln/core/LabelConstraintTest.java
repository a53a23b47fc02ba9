package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelConstraintTest {
    private final Map<String, String> node = Map.of("zone", "a", "arch", "x86_64");

    @Test
    void eachFormMatchesAsDocumented() {
        assertThat(LabelConstraint.parse("zone=a").matches(node)).isTrue();
        assertThat(LabelConstraint.parse("zone = b").matches(node)).isFalse();
        assertThat(LabelConstraint.parse("zone!=b").matches(node)).isTrue();
        assertThat(LabelConstraint.parse("gpu!=true").matches(node)).as("absent label").isTrue();
        assertThat(LabelConstraint.parse("arch in (arm64, x86_64)").matches(node)).isTrue();
        assertThat(LabelConstraint.parse("arch in (arm64)").matches(node)).isFalse();
        assertThat(LabelConstraint.parse("zone exists").matches(node)).isTrue();
        assertThat(LabelConstraint.parse("gpu exists").matches(node)).isFalse();
        assertThat(LabelConstraint.parse("gpu=true").matches(node)).isFalse();
        assertThat(LabelConstraint.parse("arch in (x86_64,arm64)")).hasToString("arch in (arm64,x86_64)");
    }

    @Test
    void nonsenseIsRefusedWithTheFormsItAccepts() {
        for (String bad : new String[]{"", "zone", "=a", "zone=", "zone in ()", "zone ~ a", "a;b=c", "zone in a,b"}) {
            assertThatThrownBy(() -> LabelConstraint.parse(bad)).as(bad)
                    .hasMessageContaining("key=value, key!=value, key in (a,b) or key exists");
        }
    }
}
