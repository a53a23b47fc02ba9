package dev.kiln.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A stable digest of a {@link JobSpec}, used to tell "same idempotency key, same body" from a conflicting one. */
public final class SpecHash {
    private SpecHash() {
    }

    public static String of(JobSpec spec) {
        MessageDigest md = sha256();
        field(md, spec.code());
        field(md, spec.inputDataJson());
        field(md, spec.jobType());
        field(md, spec.timeoutSeconds() == null ? null : spec.timeoutSeconds().toString());
        for (String c : spec.constraints()) field(md, c);
        field(md, null); // ends the constraints
        for (var e : spec.files().entrySet()) { // sorted map: stable order
            field(md, e.getKey());
            bytes(md, e.getValue());
        }
        if (spec.queueTimeoutSeconds() != null) { // only when set: hashes stored before the field existed still match
            field(md, null); // ends the files
            field(md, "queue_timeout=" + spec.queueTimeoutSeconds());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void field(MessageDigest md, String s) {
        bytes(md, s == null ? null : s.getBytes(StandardCharsets.UTF_8));
    }

    // Length-prefixed so that ("ab","c") and ("a","bc") differ; -1 marks null.
    private static void bytes(MessageDigest md, byte[] b) {
        int len = b == null ? -1 : b.length;
        md.update(new byte[]{(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
        if (b != null) md.update(b);
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
