package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LiveOutputTest {
    private final LiveOutput live = new LiveOutput(64);

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aCharacterSplitAcrossChunksIsDecodedWhole() {
        List<LiveOutput.Chunk> seen = new ArrayList<>();
        live.started("j", "j-1");
        live.follow("j", seen::add);
        byte[] euro = utf8("€"); // three bytes
        live.append("j", "j-1", "stdout", new byte[]{'a', euro[0]});
        live.append("j", "j-1", "stdout", new byte[]{euro[1], euro[2], 'b'});
        assertThat(seen).extracting(LiveOutput.Chunk::text).containsExactly("a", "€b");
    }

    @Test
    void aLateFollowerGetsEverythingOnceThenTheEnd() {
        live.started("j", "j-1");
        live.append("j", "j-1", "stdout", utf8("one\n"));
        live.append("j", "j-1", "stderr", utf8("warn\n"));
        List<LiveOutput.Chunk> seen = new ArrayList<>();
        assertThat(live.follow("j", seen::add)).isTrue();
        live.append("j", "j-1", "stdout", utf8("two\n"));
        live.finished("j");
        assertThat(seen).extracting(LiveOutput.Chunk::stream).containsExactly("stdout", "stderr", "stdout", null);
        assertThat(seen.getLast().isEnd()).isTrue();
        assertThat(live.follow("j", seen::add)).as("nothing to follow once it ended").isFalse();
    }

    @Test
    void aStaleExecutionsOutputIsIgnoredAndFollowersMoveToTheReRun() {
        List<LiveOutput.Chunk> seen = new ArrayList<>();
        live.started("j", "j-1");
        live.follow("j", seen::add);
        live.started("j", "j-2"); // re-queued and started again
        live.append("j", "j-1", "stdout", utf8("late from the lost node\n"));
        live.append("j", "j-2", "stdout", utf8("rerun\n"));
        assertThat(seen).extracting(LiveOutput.Chunk::text).containsExactly("rerun\n");
    }

    @Test
    void oneExecutionCannotAddMoreThanItsCap() {
        List<LiveOutput.Chunk> seen = new ArrayList<>();
        live.started("j", "j-1");
        live.follow("j", seen::add);
        live.append("j", "j-1", "stdout", new byte[60]);
        live.append("j", "j-1", "stdout", utf8("over the 64-byte cap"));
        assertThat(seen).hasSize(1);
    }
}
