package dev.kiln.cli.bench;

import java.util.List;

/** One benchmark of the suite: runs against fresh in-process parts and returns its figures. */
interface Bench {
    String name();

    List<Figure> run(BenchOptions options) throws Exception;
}
