package dev.kiln.sandbox;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class BoundedCaptureTest {
    private static BoundedCapture capture(byte[] data, long cap) {
        BoundedCapture c = new BoundedCapture(new ByteArrayInputStream(data), cap).start("test");
        assertThat(c.await(Duration.ofSeconds(5))).isTrue();
        return c;
    }

    @Test
    void keepsEverythingUnderTheCap() {
        BoundedCapture c = capture("hello\n".getBytes(StandardCharsets.UTF_8), 100);
        assertThat(c.text()).isEqualTo("hello\n");
        assertThat(c.truncated()).isFalse();
        assertThat(c.textForClassification()).isEqualTo("hello\n");
    }

    @Test
    void keepsTheHeadAndTheTailAndDrainsTheRest() {
        // 10 MB from a stream that is never materialised
        long size = 10L << 20;
        InputStream big = new InputStream() {
            long left = size;

            @Override
            public int read() {
                return left-- > 0 ? 'x' : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left <= 0) return -1;
                int n = (int) Math.min(len, left);
                for (int i = 0; i < n; i++) b[off + i] = (byte) (left - i == 1 ? '!' : 'x');
                left -= n;
                return n;
            }
        };
        BoundedCapture c = new BoundedCapture(big, 1000).start("big");
        assertThat(c.await(Duration.ofSeconds(10))).isTrue();
        assertThat(c.totalBytes()).isEqualTo(size);
        assertThat(c.truncated()).isTrue();
        assertThat(c.text()).hasSize(1000);
        assertThat(c.tailText()).hasSize(BoundedCapture.TAIL).endsWith("x!");
        assertThat(c.textForClassification()).endsWith("x!");
    }

    @Test
    void neverCutsInsideAMultiByteCharacter() {
        byte[] data = "a\u00e9\u20ac\uD83D\uDE00".getBytes(StandardCharsets.UTF_8); // 1 + 2 + 3 + 4 bytes
        String[] expected = {"", "a", "a", "a\u00e9", "a\u00e9", "a\u00e9", "a\u00e9\u20ac", "a\u00e9\u20ac",
                "a\u00e9\u20ac", "a\u00e9\u20ac"};
        for (int cap = 0; cap < data.length; cap++) {
            assertThat(capture(data, cap).text()).as("cap " + cap).isEqualTo(expected[cap]);
        }
        assertThat(capture(data, data.length).text()).isEqualTo("a\u00e9\u20ac\uD83D\uDE00");
    }

    @Test
    void replacesInvalidBytes() {
        BoundedCapture c = capture(new byte[] {'o', 'k', (byte) 0xFF, '!'}, 100);
        assertThat(c.text()).isEqualTo("ok\uFFFD!");
    }

    @Test
    void tailStartsAtACharacterBoundary() {
        byte[] data = "\u00e9".repeat(BoundedCapture.TAIL).getBytes(StandardCharsets.UTF_8);
        BoundedCapture c = capture(data, 10);
        assertThat(c.tailText()).doesNotContain("\uFFFD").matches("\u00e9+");
    }
}
