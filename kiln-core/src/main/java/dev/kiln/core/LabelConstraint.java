package dev.kiln.core;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A job's requirement on a node's labels: {@code key=value}, {@code key!=value}, {@code key in (a,b)},
 * {@code key exists}. A {@code !=} constraint also holds on nodes without the label.
 */
public record LabelConstraint(String key, Op op, Set<String> values) {
    public enum Op { EQUALS, NOT_EQUALS, IN, EXISTS }

    private static final String KEY = "[A-Za-z0-9][A-Za-z0-9._/-]{0,62}";
    private static final String VALUE = "[A-Za-z0-9._:/-]{1,63}";
    private static final Pattern EQ = Pattern.compile("(" + KEY + ")\\s*(!=|==|=)\\s*(" + VALUE + ")");
    private static final Pattern IN = Pattern.compile("(" + KEY + ")\\s+in\\s*\\(\\s*(" + VALUE + "(\\s*,\\s*" + VALUE
            + ")*)\\s*\\)");
    private static final Pattern EXISTS = Pattern.compile("(" + KEY + ")\\s+exists");

    /** @throws IllegalArgumentException naming the accepted forms */
    public static LabelConstraint parse(String text) {
        String t = text == null ? "" : text.strip();
        Matcher m;
        if ((m = EQ.matcher(t)).matches()) {
            Op op = m.group(2).equals("!=") ? Op.NOT_EQUALS : Op.EQUALS;
            return new LabelConstraint(m.group(1), op, Set.of(m.group(3)));
        }
        if ((m = IN.matcher(t)).matches()) {
            return new LabelConstraint(m.group(1), Op.IN, Set.copyOf(List.of(m.group(2).split("\\s*,\\s*"))));
        }
        if ((m = EXISTS.matcher(t)).matches()) return new LabelConstraint(m.group(1), Op.EXISTS, Set.of());
        throw new IllegalArgumentException("'" + text + "' is not a label constraint; use key=value, key!=value, "
                + "key in (a,b) or key exists");
    }

    public boolean matches(Map<String, String> labels) {
        String v = labels.get(key);
        return switch (op) {
            case EQUALS -> v != null && values.contains(v);
            case NOT_EQUALS -> v == null || !values.contains(v);
            case IN -> v != null && values.contains(v);
            case EXISTS -> v != null;
        };
    }

    @Override
    public String toString() {
        return switch (op) {
            case EQUALS -> key + "=" + values.iterator().next();
            case NOT_EQUALS -> key + "!=" + values.iterator().next();
            case IN -> key + " in (" + String.join(",", values.stream().sorted().toList()) + ")";
            case EXISTS -> key + " exists";
        };
    }
}
