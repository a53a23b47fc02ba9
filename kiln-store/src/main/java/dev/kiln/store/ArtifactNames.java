package dev.kiln.store;

import dev.kiln.core.CollectedArtifact;
import dev.kiln.core.JobSpecValidator;
import dev.kiln.core.KilnException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** The checks every {@link dev.kiln.core.ArtifactStore} applies to job ids and artifact names, whatever it stores in. */
final class ArtifactNames {
    private static final Pattern JOB_ID = Pattern.compile("[0-9a-fA-F-]{1,64}");

    private ArtifactNames() {
    }

    static boolean isJobId(String jobId) {
        return jobId != null && JOB_ID.matcher(jobId).matches();
    }

    static String requireJobId(String jobId) {
        if (!isJobId(jobId)) throw new IllegalArgumentException("not a job id: '" + jobId + "'");
        return jobId;
    }

    /** A relative path as {@link JobSpecValidator#checkRelativePath} accepts: no '..', no leading '/' or '.'. */
    static boolean isName(String name) {
        if (name == null) return false;
        try {
            JobSpecValidator.checkRelativePath("artifact", name);
            return true;
        } catch (KilnException e) {
            return false;
        }
    }

    /** Every name valid and none given twice. */
    static void requireValidAndDistinct(List<CollectedArtifact> artifacts) {
        Set<String> names = new HashSet<>();
        for (CollectedArtifact a : artifacts) {
            if (!isName(a.name())) throw new IllegalArgumentException("not a valid artifact name: '" + a.name() + "'");
            if (!names.add(a.name())) throw new IllegalArgumentException("artifact '" + a.name() + "' given twice");
        }
    }
}
