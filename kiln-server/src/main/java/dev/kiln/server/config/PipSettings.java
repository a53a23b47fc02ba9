package dev.kiln.server.config;

import java.nio.file.Path;
import java.util.List;

/** Where layer builds get packages (the top-level {@code pip:} section): an index, extra indexes, wheel directories. */
public record PipSettings(String indexUrl, List<String> extraIndexUrls, List<Path> findLinks, boolean noIndex) {
    public static final PipSettings DEFAULTS = new PipSettings(null, List.of(), List.of(), false);

    public PipSettings {
        extraIndexUrls = List.copyOf(extraIndexUrls);
        findLinks = List.copyOf(findLinks);
    }
}
