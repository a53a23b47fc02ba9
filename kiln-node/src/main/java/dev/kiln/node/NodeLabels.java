package dev.kiln.node;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** A node's labels: the operator's plus automatic ones (arch, os, cpus, memory in GiB, executors present). */
public final class NodeLabels {
    private NodeLabels() {
    }

    public static Map<String, String> withAutomatic(Map<String, String> operator, Set<String> executors) {
        Map<String, String> labels = new TreeMap<>();
        labels.put("arch", System.getProperty("os.arch"));
        labels.put("os", System.getProperty("os.name").toLowerCase(Locale.ROOT));
        labels.put("cpus", String.valueOf(Runtime.getRuntime().availableProcessors()));
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            labels.put("memory", String.valueOf(Math.round(os.getTotalMemorySize() / (double) (1L << 30))));
        }
        labels.put("executors", String.join(",", new java.util.TreeSet<>(executors)));
        labels.putAll(operator); // the operator's word wins
        return java.util.Collections.unmodifiableMap(labels);
    }
}
