package dev.kiln.store;

import dev.kiln.core.JobType;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** A {@link JobType} as stored in {@code job_types.definition_json}: explicit fields, no annotations. */
final class JobTypeJsonMapper {
    private final JsonMapper json = JsonMapper.builder().build();

    String toJson(JobType t) {
        ObjectNode n = json.createObjectNode();
        n.put("name", t.name());
        n.put("memory_limit_bytes", t.memoryLimitBytes());
        n.put("cpu_limit", t.cpuLimit());
        n.put("timeout", t.timeoutSeconds());
        n.put("max_timeout", t.maxTimeoutSeconds());
        n.put("pids_limit", t.pidsLimit());
        n.put("network_enabled", t.networkEnabled());
        ObjectNode env = n.putObject("environment");
        t.environment().forEach(env::put);
        n.put("executor", t.executor());
        n.put("max_output_bytes", t.maxOutputBytes());
        n.put("tmp_size_bytes", t.tmpSizeBytes());
        n.put("python_version", t.packages().pythonVersion());
        t.packages().requirements().forEach(n.putArray("requirements")::add);
        var shared = n.putArray("shared_code");
        t.packages().sharedCode().forEach(shared::add);
        if (t.pool().size() == null) n.putNull("pool_size"); else n.put("pool_size", t.pool().size());
        n.put("pool_refill_concurrency", t.pool().refillConcurrency());
        n.put("pool_idle_ttl", t.pool().idleTtlSeconds());
        return json.writeValueAsString(n);
    }

    JobType fromJson(String text) {
        JsonNode n = json.readTree(text);
        Map<String, String> env = new LinkedHashMap<>();
        n.path("environment").properties().forEach(e -> env.put(e.getKey(), e.getValue().stringValue()));
        return new JobType(n.get("name").stringValue(), n.get("memory_limit_bytes").longValue(),
                n.get("cpu_limit").doubleValue(), n.get("timeout").intValue(), n.get("max_timeout").intValue(),
                n.get("pids_limit").intValue(), n.get("network_enabled").booleanValue(), env,
                n.path("executor").isString() ? n.get("executor").stringValue() : null,
                n.get("max_output_bytes").longValue(), n.get("tmp_size_bytes").longValue(),
                new PackageSpec(n.path("python_version").isString() ? n.get("python_version").stringValue() : null,
                        strings(n.path("requirements")), strings(n.path("shared_code"))),
                new WarmPoolSpec(n.path("pool_size").isInt() ? n.get("pool_size").intValue() : null,
                        n.path("pool_refill_concurrency").asInt(WarmPoolSpec.DEFAULT.refillConcurrency()),
                        n.path("pool_idle_ttl").asInt(WarmPoolSpec.DEFAULT.idleTtlSeconds())));
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode s : array) out.add(s.stringValue());
        return out;
    }
}
