package dev.kiln.node.agent;

import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.LayerUnavailableException;
import dev.kiln.node.LocalComputeNode;
import dev.kiln.node.protocol.NodeMessage.Execute;
import java.util.List;

/**
 * Whether this node takes an execution it was sent, and the request as it runs here: on the layer this node digests
 * for the job type itself (the orchestrator's {@code layer_digest} is its own host's).
 */
final class Admission {
    /** Why the node cannot take an execution; answered with a failed result in the setup phase. */
    static final class Refusal extends Exception {
        Refusal(String message) {
            super(message);
        }
    }

    private final String nodeId;
    private final LocalComputeNode node;
    private final NodeEnvironments environments;
    private final List<String> jobTypes; // null: any

    Admission(String nodeId, LocalComputeNode node, NodeEnvironments environments, List<String> jobTypes) {
        this.nodeId = nodeId;
        this.node = node;
        this.environments = environments;
        this.jobTypes = jobTypes;
    }

    /** The request to run here. */
    ExecutionRequest admit(Execute e) throws Refusal {
        ExecutionRequest r = e.request();
        String type = r.jobType().name();
        if (jobTypes != null && !jobTypes.contains(type)) {
            throw new Refusal("node " + nodeId + " does not take job type '" + type + "' (only " + jobTypes + ")");
        }
        if (!node.executors().contains(e.executor())) {
            throw new Refusal("node " + nodeId + " has no executor '" + e.executor() + "' (it has "
                    + node.executors() + ")");
        }
        String digest;
        try {
            digest = environments.digestToRun(r.jobType());
        } catch (LayerUnavailableException ex) {
            throw new Refusal(ex.getMessage());
        }
        return new ExecutionRequest(r.executionId(), r.jobId(), r.attempt(), r.spec(), r.jobType(), r.timeoutSeconds(),
                r.outputLimits(), digest);
    }
}
