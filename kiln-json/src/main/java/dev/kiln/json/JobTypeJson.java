package dev.kiln.json;

import static dev.kiln.json.JsonFields.bool;
import static dev.kiln.json.JsonFields.integer;
import static dev.kiln.json.JsonFields.longInteger;
import static dev.kiln.json.JsonFields.number;
import static dev.kiln.json.JsonFields.optInteger;
import static dev.kiln.json.JsonFields.optStrings;
import static dev.kiln.json.JsonFields.optText;
import static dev.kiln.json.JsonFields.stringMap;
import static dev.kiln.json.JsonFields.text;

import dev.kiln.core.JobType;
import dev.kiln.core.NetworkPolicy;
import dev.kiln.core.PackageSpec;
import dev.kiln.core.WarmPoolSpec;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A {@link JobType} as JSON: stored in {@code job_types.definition_json} and sent as the {@code job_type} of an
 * {@code execute} message (docs/protocol.md). The limits are required; the pool fields came later and default to
 * {@link WarmPoolSpec#DEFAULT} when absent.
 */
public final class JobTypeJson {
    private JobTypeJson() {
    }

    public static ObjectNode toTree(JobType t) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
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
        var requirements = n.putArray("requirements");
        t.packages().requirements().forEach(requirements::add);
        var sharedCode = n.putArray("shared_code");
        t.packages().sharedCode().forEach(sharedCode::add);
        n.put("pool_size", t.pool().size());
        n.put("pool_refill_concurrency", t.pool().refillConcurrency());
        n.put("pool_idle_ttl", t.pool().idleTtlSeconds());
        if (t.queueTimeoutSeconds() != null) n.put("queue_timeout", t.queueTimeoutSeconds());
        if (t.network().restricted()) {
            var allow = n.putObject("network").putArray("allow");
            t.network().allowTexts().forEach(allow::add);
        }
        return n;
    }

    public static JobType fromTree(JsonNode n) {
        return new JobType(text(n, "name"), longInteger(n, "memory_limit_bytes"), number(n, "cpu_limit"),
                integer(n, "timeout"), integer(n, "max_timeout"), integer(n, "pids_limit"),
                bool(n, "network_enabled"), stringMap(n, "environment"), optText(n, "executor"),
                longInteger(n, "max_output_bytes"), longInteger(n, "tmp_size_bytes"),
                new PackageSpec(optText(n, "python_version"), optStrings(n, "requirements"),
                        optStrings(n, "shared_code")),
                pool(n), optInteger(n, "queue_timeout"), network(n));
    }

    /** {@code network: {allow: [...]}}; absent (older peers and stores): no allow list. */
    private static NetworkPolicy network(JsonNode n) {
        JsonNode net = n.get("network");
        if (net == null || net.isNull()) return NetworkPolicy.OPEN;
        if (!net.isObject()) throw new JsonFieldException("network", "must be an object");
        if (!net.has("allow") || net.get("allow").isNull()) return NetworkPolicy.OPEN;
        try {
            return NetworkPolicy.parse(optStrings(net, "allow"));
        } catch (NetworkPolicy.InvalidEntry e) {
            throw new JsonFieldException("network.allow[" + e.index() + "]", e.getMessage());
        }
    }

    private static WarmPoolSpec pool(JsonNode n) {
        Integer size = optInteger(n, "pool_size");
        int refill = integer(n, "pool_refill_concurrency", WarmPoolSpec.DEFAULT.refillConcurrency());
        int idleTtl = integer(n, "pool_idle_ttl", WarmPoolSpec.DEFAULT.idleTtlSeconds());
        try {
            return new WarmPoolSpec(size, refill, idleTtl);
        } catch (IllegalArgumentException e) {
            // The record's own check names the pool field that is out of range.
            throw new JsonFieldException("pool", e.getMessage());
        }
    }
}
