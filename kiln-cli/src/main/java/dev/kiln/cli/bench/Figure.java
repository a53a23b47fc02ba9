package dev.kiln.cli.bench;

/**
 * One measured figure with its goal. {@code goal} is null where the issue sets none; {@code higherIsBetter} says
 * which way the goal points.
 */
public record Figure(String bench, String name, double value, String unit, Double goal, boolean higherIsBetter,
                     String note) {
    public static Figure info(String bench, String name, double value, String unit, String note) {
        return new Figure(bench, name, value, unit, null, true, note);
    }

    public static Figure atLeast(String bench, String name, double value, String unit, double goal) {
        return new Figure(bench, name, value, unit, goal, true, null);
    }

    public static Figure atMost(String bench, String name, double value, String unit, double goal) {
        return new Figure(bench, name, value, unit, goal, false, null);
    }

    public Figure withNote(String n) {
        return new Figure(bench, name, value, unit, goal, higherIsBetter, n);
    }

    /** null when there is no goal. */
    public Boolean met() {
        if (goal == null || Double.isNaN(value)) return goal == null ? null : false;
        return higherIsBetter ? value >= goal : value <= goal;
    }

    public String goalText() {
        if (goal == null) return "";
        return (higherIsBetter ? ">= " : "<= ") + format(goal);
    }

    public String valueText() {
        return format(value);
    }

    static String format(double v) {
        if (Double.isNaN(v)) return "n/a";
        if (v >= 100) return String.format("%.0f", v);
        if (v >= 10) return String.format("%.1f", v);
        return String.format("%.2f", v);
    }
}
