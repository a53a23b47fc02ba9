package dev.kiln.cli.cluster;

import java.util.List;

/** The same remote-node suite over HTTP long-poll, for networks that break WebSockets. */
class RemoteNodesLongPollTest extends RemoteNodesSuite {
    @Override
    List<String> transportFlags() {
        return List.of("--transport", "poll");
    }
}
