package dev.kiln.node.agent;

import dev.kiln.core.ExecutionListener;
import dev.kiln.core.ExecutionRequest;
import dev.kiln.core.ExecutionResult;
import dev.kiln.core.JobError;
import java.util.function.BiConsumer;

/**
 * One execution's listener on the node: live output goes out as it comes (coalesced), the result after it. Once a
 * type has run here (its layer built), its warm pool is set up for the next ones. The execution holds its layer
 * from its start (before the layer is provisioned) to its result, so the node's layer collector cannot remove it in
 * between.
 */
final class RunListener implements ExecutionListener {
    private final String executor;
    private final NodeEnvironments environments;
    private final NodePools pools;
    private final OutputBatcher output;
    private final BiConsumer<ExecutionRequest, ExecutionResult> completed;
    private NodeLayerCollector.ExecutionHold layer = NodeLayerCollector.ExecutionHold.NONE;

    /** @param completed takes the result on the execution's thread (its artifact files go once it returns) */
    RunListener(String executor, NodeEnvironments environments, NodePools pools, OutputBatcher output,
                BiConsumer<ExecutionRequest, ExecutionResult> completed) {
        this.executor = executor;
        this.environments = environments;
        this.pools = pools;
        this.output = output;
        this.completed = completed;
    }

    @Override
    public void started(ExecutionRequest request) {
        layer = environments.hold(request.layerDigest());
    }

    @Override
    public void completed(ExecutionRequest request, ExecutionResult result) {
        try {
            completed.accept(request, result);
            if (result.error() == null || !JobError.PHASE_SETUP.equals(result.error().phase())) {
                pools.ran(request.jobType(), request.layerDigest(), executor);
            }
        } finally {
            layer.close();
        }
    }

    @Override
    public void output(ExecutionRequest request, String stream, byte[] bytes) {
        output.add(request.executionId(), stream, bytes);
    }
}
