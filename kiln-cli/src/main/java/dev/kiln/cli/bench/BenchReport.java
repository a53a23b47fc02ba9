package dev.kiln.cli.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** Prints the suite's figures next to their goals, as a table or JSON, and draws the latency chart. */
final class BenchReport {
    private final List<Figure> figures;
    private final String machine;

    BenchReport(List<Figure> figures, String machine) {
        this.figures = List.copyOf(figures);
        this.machine = machine;
    }

    /** Kiln's Python throughput as a share of the floor measured in the same run (goal >= 0.8). */
    static List<Figure> withRatios(List<Figure> figures) {
        List<Figure> out = new ArrayList<>(figures);
        Double kiln = find(figures, "python", "jobs/s, all cores busy");
        Double floor = find(figures, "floor", "jobs/s, all cores busy");
        if (kiln != null && floor != null && floor > 0) {
            out.add(Figure.atLeast("python", "jobs/s ÷ floor jobs/s", kiln / floor, "ratio", 0.8));
        }
        return out;
    }

    private static Double find(List<Figure> figures, String bench, String name) {
        return figures.stream().filter(f -> f.bench().equals(bench) && f.name().equals(name)).map(Figure::value)
                .findFirst().orElse(null);
    }

    void printTable(PrintWriter out) {
        out.println("Kiln bench: " + machine);
        out.printf("%-9s %-28s %10s %-7s %-10s %-4s %s%n", "BENCH", "FIGURE", "VALUE", "UNIT", "GOAL", "MET",
                "NOTE");
        for (Figure f : figures) {
            Boolean met = f.met();
            out.printf("%-9s %-28s %10s %-7s %-10s %-4s %s%n", f.bench(), f.name(), f.valueText(), f.unit(),
                    f.goalText(), met == null ? "" : met ? "yes" : "NO", f.note() == null ? "" : f.note());
        }
        out.flush();
    }

    void printJson(PrintWriter out) {
        JsonMapper json = new JsonMapper();
        ObjectNode root = json.createObjectNode();
        root.put("machine", machine);
        ArrayNode list = root.putArray("figures");
        for (Figure f : figures) {
            ObjectNode o = list.addObject().put("bench", f.bench()).put("figure", f.name()).put("value", f.value())
                    .put("unit", f.unit());
            if (f.goal() != null) o.put("goal", f.goalText()).put("met", f.met());
            if (f.note() != null) o.put("note", f.note());
        }
        out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        out.flush();
    }

    /** A PNG bar chart of every latency figure (ms). */
    void writeChart(Path png) throws IOException {
        Map<String, Double> latencies = new LinkedHashMap<>();
        for (Figure f : figures) {
            if (f.unit().equals("ms") && !Double.isNaN(f.value())) latencies.put(f.bench() + " " + f.name(), Math.round(f.value() * 10) / 10.0);
        }
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(520)
                .title("Kiln latency percentiles (ms) — " + machine).xAxisTitle("").yAxisTitle("ms")
                .build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisLabelRotation(30);
        chart.getStyler().setLabelsVisible(true);
        chart.addSeries("latency", new ArrayList<>(latencies.keySet()), new ArrayList<>(latencies.values()));
        String name = png.toString().endsWith(".png") ? png.toString().substring(0, png.toString().length() - 4)
                : png.toString();
        BitmapEncoder.saveBitmap(chart, name, BitmapEncoder.BitmapFormat.PNG);
    }
}
