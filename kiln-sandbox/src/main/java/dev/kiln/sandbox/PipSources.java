package dev.kiln.sandbox;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where layer builds get packages from: pip's {@code --index-url}, {@code --extra-index-url}, {@code --find-links}
 * (local wheel directories or files, bound read-only into the build sandbox) and {@code --no-index}. The build
 * sandbox has network access exactly when {@code noIndex} is false.
 *
 * @param indexUrl       null: pip's default (PyPI)
 * @param findLinks      absolute host paths
 */
public record PipSources(String indexUrl, List<String> extraIndexUrls, List<Path> findLinks, boolean noIndex) {
    /** Nothing set: PyPI, with network access. */
    public static final PipSources DEFAULT = new PipSources(null, List.of(), List.of(), false);

    public PipSources {
        extraIndexUrls = extraIndexUrls == null ? List.of() : List.copyOf(extraIndexUrls);
        findLinks = findLinks == null ? List.of() : findLinks.stream()
                .map(p -> Objects.requireNonNull(p, "findLinks entry").toAbsolutePath().normalize()).toList();
        if (indexUrl != null && indexUrl.isBlank()) indexUrl = null;
        for (String url : extraIndexUrls) {
            if (url == null || url.isBlank()) throw new IllegalArgumentException("extra index url must not be blank");
        }
    }

    /** Only local wheel directories: {@code --no-index --find-links dir...}, no network. */
    public static PipSources localOnly(List<Path> findLinks) {
        return new PipSources(null, List.of(), findLinks, true);
    }

    /** For logs: index URLs without the credentials they may carry ({@code https://user:token@host/simple}). */
    @Override
    public String toString() {
        return "PipSources[indexUrl=" + redact(indexUrl) + ", extraIndexUrls="
                + extraIndexUrls.stream().map(PipSources::redact).toList() + ", findLinks=" + findLinks + ", noIndex="
                + noIndex + "]";
    }

    private static String redact(String url) {
        return url == null ? null : url.replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1***@");
    }

    /** Whether the build sandbox needs the network (an index may be consulted). */
    public boolean needsNetwork() {
        return !noIndex;
    }

    /** The pip flags, with each find-links path replaced by where the sandbox sees it ({@code sandboxFindLinks}). */
    List<String> pipArgs(List<String> sandboxFindLinks) {
        if (sandboxFindLinks.size() != findLinks.size()) throw new IllegalArgumentException("one path per find-links");
        List<String> args = new ArrayList<>();
        if (noIndex) args.add("--no-index");
        if (indexUrl != null) args.addAll(List.of("--index-url", indexUrl));
        for (String url : extraIndexUrls) args.addAll(List.of("--extra-index-url", url));
        for (String p : sandboxFindLinks) args.addAll(List.of("--find-links", p));
        return args;
    }
}
