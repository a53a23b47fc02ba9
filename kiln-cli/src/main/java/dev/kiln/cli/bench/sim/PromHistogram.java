package dev.kiln.cli.bench.sim;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Prometheus histogram read from a {@code /metrics} text: cumulative counts by upper bound ({@code le}), and
 * quantiles estimated the way PromQL's {@code histogram_quantile} does (linear interpolation inside the bucket the
 * rank falls in), so a figure is only as precise as the bucket bounds around it.
 */
public record PromHistogram(TreeMap<Double, Double> cumulative) {
    private static final Pattern LE = Pattern.compile("le=\"([^\"]+)\"");

    public PromHistogram {
        cumulative = new TreeMap<>(cumulative);
    }

    /** The buckets of {@code name} (e.g. {@code kiln_dispatch_latency_seconds}), summed over any other labels. */
    public static PromHistogram parse(String metricsText, String name) {
        Pattern line = Pattern.compile("(?m)^" + Pattern.quote(name + "_bucket") + "\\{([^}]*)}\\s+(\\S+)");
        Matcher m = line.matcher(metricsText);
        TreeMap<Double, Double> buckets = new TreeMap<>();
        while (m.find()) {
            Matcher le = LE.matcher(m.group(1));
            if (!le.find()) continue;
            double bound = le.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le.group(1));
            buckets.merge(bound, Double.parseDouble(m.group(2)), Double::sum);
        }
        return new PromHistogram(buckets);
    }

    /** The observations made after {@code earlier} was scraped (bucket by bucket). */
    public PromHistogram minus(PromHistogram earlier) {
        TreeMap<Double, Double> out = new TreeMap<>();
        cumulative.forEach((le, n) -> out.put(le, n - earlier.cumulative.getOrDefault(le, 0.0)));
        return new PromHistogram(out);
    }

    public double count() {
        Double inf = cumulative.get(Double.POSITIVE_INFINITY);
        return inf != null ? inf : cumulative.isEmpty() ? 0 : cumulative.lastEntry().getValue();
    }

    /** The {@code q} quantile (0..1) in the histogram's unit; NaN without observations. */
    public double quantile(double q) {
        double total = count();
        if (total <= 0) return Double.NaN;
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            double upper = e.getKey();
            double n = e.getValue();
            if (n >= rank) {
                if (Double.isInfinite(upper)) return lowerBound; // as histogram_quantile: the highest finite bound
                if (n == lowerCount) return upper;
                return lowerBound + (upper - lowerBound) * (rank - lowerCount) / (n - lowerCount);
            }
            lowerBound = upper;
            lowerCount = n;
        }
        return lowerBound;
    }

    /** The bounds of the bucket the {@code q} quantile falls in, for saying how precise it is. */
    public double[] bucketAround(double q) {
        double rank = q * count();
        double lower = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= rank) return new double[] {lower, e.getKey()};
            lower = e.getKey();
        }
        return new double[] {lower, Double.POSITIVE_INFINITY};
    }
}
