package dev.kiln.json;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import tools.jackson.databind.JsonNode;

/**
 * Reads one field of a JSON object, strictly: a required field that is missing, or any field holding the wrong
 * kind of value, is a {@link JsonFieldException} naming it. An optional field may be absent or null. Unknown fields
 * are never looked at, so writers can add fields without breaking readers.
 */
public final class JsonFields {
    private JsonFields() {
    }

    public static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isString()) throw new JsonFieldException(field, "required string");
        return v.stringValue();
    }

    public static String optText(JsonNode n, String field) {
        JsonNode v = present(n, field);
        if (v == null) return null;
        if (!v.isString()) throw new JsonFieldException(field, "must be a string");
        return v.stringValue();
    }

    public static int integer(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isInt()) throw new JsonFieldException(field, "required integer");
        return v.intValue();
    }

    public static Integer optInteger(JsonNode n, String field) {
        JsonNode v = present(n, field);
        if (v == null) return null;
        if (!v.isInt()) throw new JsonFieldException(field, "must be an integer");
        return v.intValue();
    }

    public static int integer(JsonNode n, String field, int absent) {
        Integer v = optInteger(n, field);
        return v == null ? absent : v;
    }

    public static long longInteger(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !isLong(v)) throw new JsonFieldException(field, "required integer");
        return v.longValue();
    }

    public static long longInteger(JsonNode n, String field, long absent) {
        JsonNode v = present(n, field);
        if (v == null) return absent;
        if (!isLong(v)) throw new JsonFieldException(field, "must be an integer");
        return v.longValue();
    }

    public static double number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isNumber()) throw new JsonFieldException(field, "required number");
        return v.doubleValue();
    }

    public static boolean bool(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isBoolean()) throw new JsonFieldException(field, "required boolean");
        return v.booleanValue();
    }

    public static boolean bool(JsonNode n, String field, boolean absent) {
        JsonNode v = present(n, field);
        if (v == null) return absent;
        if (!v.isBoolean()) throw new JsonFieldException(field, "must be a boolean");
        return v.booleanValue();
    }

    /** A wire name such as {@code execution_timeout}, parsed by {@code fromWire} (which refuses unknown names). */
    public static <T> T wireValue(JsonNode n, String field, Function<String, T> fromWire) {
        String s = text(n, field);
        try {
            return fromWire.apply(s);
        } catch (IllegalArgumentException e) {
            throw new JsonFieldException(field, "unknown value '" + s + "'");
        }
    }

    public static byte[] base64(JsonNode n, String field) {
        String s = text(n, field);
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw new JsonFieldException(field, "not base64");
        }
    }

    /** The object in {@code field}, read by {@code read}; a fault inside is named by its path ({@code spec.code}). */
    public static <T> T object(JsonNode n, String field, Function<JsonNode, T> read) {
        JsonNode v = n.get(field);
        if (v == null || !v.isObject()) throw new JsonFieldException(field, "required object");
        return inside(field, v, read);
    }

    /** Like {@link #object}, but absent or null gives null. */
    public static <T> T optObject(JsonNode n, String field, Function<JsonNode, T> read) {
        JsonNode v = present(n, field);
        if (v == null) return null;
        if (!v.isObject()) throw new JsonFieldException(field, "must be an object or null");
        return inside(field, v, read);
    }

    /** An array of objects, each read by {@code read} (absent or null: none); faults are named {@code field[i].x}. */
    public static <T> List<T> objects(JsonNode n, String field, Function<JsonNode, T> read) {
        JsonNode v = optArray(n, field);
        List<T> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            String element = field + "[" + i + "]";
            if (!v.get(i).isObject()) throw new JsonFieldException(element, "must be an object");
            out.add(inside(element, v.get(i), read));
        }
        return out;
    }

    public static List<String> strings(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isArray()) throw new JsonFieldException(field, "required array of strings");
        return stringElements(v, field);
    }

    /** Absent or null: empty. */
    public static List<String> optStrings(JsonNode n, String field) {
        return stringElements(optArray(n, field), field);
    }

    /** An object of strings, in document order (absent or null: empty). */
    public static Map<String, String> stringMap(JsonNode n, String field) {
        return map(n, field, JsonFields::text);
    }

    /** An object of integers, in document order (absent or null: empty). */
    public static Map<String, Integer> intMap(JsonNode n, String field) {
        return map(n, field, JsonFields::integer);
    }

    /** An object of base64 texts, in document order (absent or null: empty). */
    public static Map<String, byte[]> base64Map(JsonNode n, String field) {
        return map(n, field, JsonFields::base64);
    }

    // value reads one property of the object by its key, so a fault names the key.
    private static <T> Map<String, T> map(JsonNode n, String field, BiFunction<JsonNode, String, T> value) {
        JsonNode v = present(n, field);
        Map<String, T> out = new LinkedHashMap<>();
        if (v == null) return out;
        if (!v.isObject()) throw new JsonFieldException(field, "must be an object");
        for (String key : v.propertyNames()) {
            try {
                out.put(key, value.apply(v, key));
            } catch (JsonFieldException e) {
                throw e.within(field);
            }
        }
        return out;
    }

    private static <T> T inside(String field, JsonNode v, Function<JsonNode, T> read) {
        try {
            return read.apply(v);
        } catch (JsonFieldException e) {
            throw e.within(field);
        }
    }

    // Absent and null come back as themselves: both read as an empty array.
    private static JsonNode optArray(JsonNode n, String field) {
        JsonNode v = n.path(field);
        if (!v.isArray() && !v.isMissingNode() && !v.isNull()) throw new JsonFieldException(field, "must be an array");
        return v;
    }

    private static List<String> stringElements(JsonNode array, String field) {
        List<String> out = new ArrayList<>(array.size());
        for (JsonNode s : array) {
            if (!s.isString()) throw new JsonFieldException(field, "must hold only strings");
            out.add(s.stringValue());
        }
        return out;
    }

    private static boolean isLong(JsonNode v) {
        return v.isIntegralNumber() && v.canConvertToLong();
    }

    // Absent and null are the same to an optional field.
    private static JsonNode present(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v;
    }
}
