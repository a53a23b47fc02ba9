package dev.kiln.server.auth;

import dev.kiln.core.KilnException;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The small JSON object the credential routes take: empty means {}, only the named fields, strings only. */
final class SmallJsonBody {
    private final JsonNode root;

    private SmallJsonBody(JsonNode root) {
        this.root = root;
    }

    /** @throws KilnException 400 naming the body or the unknown field */
    static SmallJsonBody parse(JsonMapper json, byte[] raw, List<String> allowed) {
        JsonNode root;
        try {
            root = raw.length == 0 ? json.createObjectNode() : json.readTree(raw);
        } catch (RuntimeException e) {
            throw KilnException.invalid("body", "body: not valid JSON");
        }
        if (!root.isObject()) throw KilnException.invalid("body", "body: must be a JSON object");
        root.propertyNames().forEach(name -> {
            if (!allowed.contains(name)) {
                throw KilnException.invalid(name, name + ": unknown field (allowed: " + String.join(", ", allowed) + ")");
            }
        });
        return new SmallJsonBody(root);
    }

    /** The field's text, {@code fallback} when absent or null. @throws KilnException 400 when not a string */
    String text(String field, String fallback) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isString()) throw KilnException.invalid(field, field + ": must be a string");
        return v.asString();
    }
}
