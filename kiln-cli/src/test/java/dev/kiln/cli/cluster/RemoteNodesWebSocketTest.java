package dev.kiln.cli.cluster;

import java.util.List;

/** The remote-node suite over the WebSocket transport (the default). */
class RemoteNodesWebSocketTest extends RemoteNodesSuite {
    @Override
    List<String> transportFlags() {
        return List.of("--transport", "ws");
    }
}
