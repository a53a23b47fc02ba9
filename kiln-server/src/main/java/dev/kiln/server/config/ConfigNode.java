package dev.kiln.server.config;

import dev.kiln.core.ByteSize;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/** A node of the YAML tree that knows its path, so every error names the file and the field. */
final class ConfigNode {
    private final String file;
    private final String path;
    private final JsonNode node;

    ConfigNode(String file, String path, JsonNode node) {
        this.file = file;
        this.path = path;
        this.node = node;
    }

    ConfigException error(String why) {
        return new ConfigException(file + ": " + (path.isEmpty() ? "" : path + ": ") + why,
                path.isEmpty() ? null : path, why);
    }

    private String childPath(String name) {
        return path.isEmpty() ? name : path + "." + name;
    }

    /** Rejects keys this version does not know, so a typo never passes silently. */
    void allowOnly(Set<String> known) {
        requireObject();
        for (Iterator<String> it = node.propertyNames().iterator(); it.hasNext(); ) {
            String key = it.next();
            if (!known.contains(key)) {
                throw new ConfigNode(file, childPath(key), null).error("unknown field; known fields: "
                        + String.join(", ", known.stream().sorted().toList()));
            }
        }
    }

    private void requireObject() {
        if (!node.isObject()) throw error("must be a mapping");
    }

    boolean has(String name) {
        return node.isObject() && node.has(name) && !node.get(name).isNull();
    }

    ConfigNode child(String name) {
        return new ConfigNode(file, childPath(name), node.get(name));
    }

    String string(String name, String fallback) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        if (!v.isString() && !v.isNumber() && !v.isBoolean()) throw child(name).error("must be a string");
        return v.asString();
    }

    int integer(String name, int fallback, int min, int max) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        if (!v.isIntegralNumber()) throw child(name).error("must be a whole number, got '" + v.asString() + "'");
        long n = v.asLong();
        if (n < min || n > max) throw child(name).error("must be between " + min + " and " + max + ", got " + n);
        return (int) n;
    }

    double decimal(String name, double fallback, double min, double max) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        if (!v.isNumber()) throw child(name).error("must be a number, got '" + v.asString() + "'");
        double d = v.asDouble();
        if (d < min || d > max) throw child(name).error("must be between " + min + " and " + max + ", got " + d);
        return d;
    }

    boolean bool(String name, boolean fallback) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        if (!v.isBoolean()) throw child(name).error("must be true or false, got '" + v.asString() + "'");
        return v.asBoolean();
    }

    long size(String name, long fallback, long min, long max) {
        if (!has(name)) return fallback;
        JsonNode v = node.get(name);
        long bytes;
        try {
            bytes = v.isIntegralNumber() ? v.asLong() : ByteSize.parse(v.asString());
        } catch (IllegalArgumentException e) {
            throw child(name).error(e.getMessage());
        }
        if (bytes < min || bytes > max) {
            throw child(name).error("must be between " + ByteSize.format(min) + " and " + ByteSize.format(max)
                    + ", got " + v.asString());
        }
        return bytes;
    }

    Map<String, String> stringMap(String name) {
        if (!has(name)) return Map.of();
        ConfigNode c = child(name);
        c.requireObject();
        Map<String, String> m = new LinkedHashMap<>();
        for (var e : c.node.properties()) {
            if (e.getValue().isContainer()) {
                throw c.child(e.getKey()).error("must be a string value");
            }
            m.put(e.getKey(), e.getValue().asString());
        }
        return m;
    }

    List<String> stringList(String name) {
        List<String> out = new ArrayList<>();
        for (ConfigNode item : list(name)) {
            if (!item.node.isString() && !item.node.isNumber()) throw item.error("must be a string");
            out.add(item.node.asString());
        }
        return out;
    }

    List<ConfigNode> list(String name) {
        if (!has(name)) return List.of();
        JsonNode v = node.get(name);
        if (!v.isArray()) throw child(name).error("must be a list");
        List<ConfigNode> items = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) items.add(new ConfigNode(file, childPath(name) + "[" + i + "]", v.get(i)));
        return items;
    }
}
