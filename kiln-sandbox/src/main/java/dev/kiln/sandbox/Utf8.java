package dev.kiln.sandbox;

/** Byte-level UTF-8 helpers for cutting captured output without splitting a character. */
final class Utf8 {
    private Utf8() {
    }

    static boolean isContinuation(byte b) {
        return (b & 0xC0) == 0x80;
    }

    /** Expected length of the sequence a lead byte starts, or 0 for a byte that cannot start one. */
    static int sequenceLength(byte lead) {
        int b = lead & 0xFF;
        if (b < 0x80) return 1;
        if (b >= 0xC2 && b <= 0xDF) return 2;
        if (b >= 0xE0 && b <= 0xEF) return 3;
        if (b >= 0xF0 && b <= 0xF4) return 4;
        return 0;
    }

    /** The largest length {@code <= len} that does not end inside an incomplete multi-byte sequence. */
    static int completePrefixLength(byte[] bytes, int len) {
        // look back at most 3 bytes for the start of the last sequence
        for (int i = len - 1; i >= 0 && i >= len - 4; i--) {
            if (isContinuation(bytes[i])) continue;
            int need = sequenceLength(bytes[i]);
            return need > 0 && i + need > len ? i : len;
        }
        return len;
    }
}
