package dev.kiln.server.auth;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Which requests need no key, and which need an admin's. Everything else needs a key of any role (or, in
 * {@link AuthMode#LOCAL}, the local user). The node API has its own credentials (join tokens), not API keys.
 */
final class AccessRules {
    private record Rule(String method, Pattern path) {
        boolean matches(String m, String p) {
            return (method == null || method.equals(m)) && path.matcher(p).matches();
        }
    }

    private static final List<Rule> OPEN = List.of(
            new Rule("GET", Pattern.compile("/health")),
            new Rule("GET", Pattern.compile("/openapi\\.json")),
            new Rule(null, Pattern.compile("/node-api/.*")));

    /** Keys, node tokens, nodes, global job types and garbage collection are the operator's. */
    private static final List<Rule> ADMIN = List.of(
            new Rule(null, Pattern.compile("/keys(/.*)?")),
            new Rule(null, Pattern.compile("/node-tokens(/.*)?")),
            new Rule("POST", Pattern.compile("/nodes/[^/]+/(drain|resume)")),
            new Rule("DELETE", Pattern.compile("/nodes/[^/]+")),
            new Rule("PUT", Pattern.compile("/job-types/[^/]+")),
            new Rule("DELETE", Pattern.compile("/job-types/[^/]+")),
            new Rule("POST", Pattern.compile("/job-types/[^/]+/build")),
            new Rule("POST", Pattern.compile("/gc")));

    private AccessRules() {
    }

    static boolean open(String method, String path) {
        return OPEN.stream().anyMatch(r -> r.matches(method, path));
    }

    static boolean adminOnly(String method, String path) {
        return ADMIN.stream().anyMatch(r -> r.matches(method, path));
    }
}
