package dev.kiln.server.auth;

import dev.kiln.core.JobRecord;
import dev.kiln.core.KilnException;
import dev.kiln.core.Orchestrator;
import dev.kiln.core.Submitter;
import io.javalin.http.Context;

/**
 * Jobs as a caller may see them: an admin sees every namespace's, anyone else only its own namespace's. Another
 * namespace's job is answered exactly like a job that does not exist (404), so its existence is not revealed.
 */
public final class JobAccess {
    private JobAccess() {
    }

    /** @throws KilnException 404 when there is no such job, or it is another namespace's */
    public static JobRecord require(Orchestrator orchestrator, Context ctx, String id) {
        JobRecord job = orchestrator.find(id).orElse(null);
        if (job == null || !visible(Authenticator.caller(ctx), job)) throw KilnException.notFound("job " + id);
        return job;
    }

    public static boolean visible(Caller caller, JobRecord job) {
        return caller.admin() || caller.namespace().equals(job.namespace());
    }

    /** Whom a job submitted now belongs to, and who submitted it. */
    public static Submitter submitter(Context ctx) {
        Caller c = Authenticator.caller(ctx);
        return new Submitter(c.namespace(), c.who());
    }

    /**
     * The namespace {@code GET /jobs} lists: the caller's own; an admin's {@code ?namespace=}, or every namespace.
     */
    public static String listedNamespace(Context ctx) {
        Caller c = Authenticator.caller(ctx);
        String asked = ctx.queryParam("namespace");
        if (!c.admin()) {
            if (asked != null && !asked.isEmpty() && !asked.equals(c.namespace())) {
                throw new KilnException(403, "forbidden", "namespace", "namespace: key " + c.who()
                        + " may list only its own namespace '" + c.namespace() + "'");
            }
            return c.namespace();
        }
        return asked == null || asked.isEmpty() ? null : asked;
    }
}
