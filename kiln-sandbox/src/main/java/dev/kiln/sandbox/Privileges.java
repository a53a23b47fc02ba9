package dev.kiln.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who Kiln runs as, and the unprivileged identity jobs run as. */
final class Privileges {
    /** nobody / nogroup: jobs run as this uid and gid, inside and (when Kiln is root) outside the sandbox. */
    static final int SANDBOX_UID = 65534;
    static final int SANDBOX_GID = 65534;

    private Privileges() {
    }

    /** The effective uid, read from the owner of /proc/self (no native code, no extra module). */
    static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return -1;
        }
    }

    static boolean isRoot() {
        return currentUid() == 0;
    }
}
