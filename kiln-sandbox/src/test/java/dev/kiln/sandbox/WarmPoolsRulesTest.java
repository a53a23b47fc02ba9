package dev.kiln.sandbox;

import dev.kiln.core.JobSpec;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which jobs a warm sandbox may run, without any sandbox. */
class WarmPoolsRulesTest {
    private static final Set<String> STARTUP = Set.of("encodings", "sitecustomize", "usercustomize", "certifi");

    private static JobSpec spec(String code, String data, String... files) {
        Map<String, byte[]> f = new java.util.TreeMap<>();
        for (String name : files) f.put(name, "x".getBytes(StandardCharsets.UTF_8));
        return new JobSpec(code, data, f, "t", null);
    }

    @Test
    void jobsWithoutInputFilesAreEligibleEvenBeforeTheProbe() {
        assertThat(WarmPools.coldReason(spec("print(1)", null), null)).isNull();
        assertThat(WarmPools.coldReason(spec("print(1)", "{}"), null)).contains("probe");
        assertThat(WarmPools.coldReason(spec("print(1)", null, "helper.py"), null)).contains("probe");
    }

    @Test
    void inputFilesNamedLikeStartUpImportsStartCold() {
        assertThat(WarmPools.coldReason(spec("pass", "{}", "helper.py", "lib/x.py", "data/a.csv"), STARTUP)).isNull();
        assertThat(WarmPools.coldReason(spec("pass", null, "sitecustomize.py"), STARTUP)).contains("sitecustomize.py");
        assertThat(WarmPools.coldReason(spec("pass", null, "encodings/__init__.py"), STARTUP)).isNotNull();
        assertThat(WarmPools.coldReason(spec("pass", null, "certifi.cpython-311-x86_64-linux-gnu.so"), STARTUP)).isNotNull();
        assertThat(WarmPools.coldReason(spec("pass", null, "usercustomize.pyc"), STARTUP)).isNotNull();
        assertThat(WarmPools.coldReason(spec("pass", null, "lib/sitecustomize.py"), STARTUP)).isNull();
    }

    @Test
    void onlyUtf8SourceDeclarationsAreEligible() {
        assertThat(WarmPools.declaresNonUtf8Encoding("print(1)\n")).isFalse();
        assertThat(WarmPools.declaresNonUtf8Encoding("# -*- coding: utf-8 -*-\nprint(1)\n")).isFalse();
        assertThat(WarmPools.declaresNonUtf8Encoding("#!/usr/bin/env python\n# coding=UTF_8\n")).isFalse();
        assertThat(WarmPools.declaresNonUtf8Encoding("# vim: set fileencoding=utf-8-sig :\n")).isFalse();
        assertThat(WarmPools.declaresNonUtf8Encoding("# -*- coding: latin-1 -*-\n")).isTrue();
        assertThat(WarmPools.declaresNonUtf8Encoding("#!/usr/bin/python\n# coding: cp1252\n")).isTrue();
        assertThat(WarmPools.declaresNonUtf8Encoding("# coding: utf8\n")).isTrue(); // not normalized by CPython
        assertThat(WarmPools.declaresNonUtf8Encoding("\uFEFF# coding: latin-1\n")).isTrue();
        assertThat(WarmPools.declaresNonUtf8Encoding("print(1)\nprint(2)\n# coding: latin-1\n")).isFalse(); // line 3
        assertThat(WarmPools.coldReason(spec("# coding: latin-1\nprint(1)\n", null), STARTUP)).contains("encoding");
    }

    @Test
    void theProbeListsTopLevelNamesTriedInInputBeforeItsMarker() throws IOException {
        String stderr = """
                # trying /input/encodings.cpython-311-x86_64-linux-gnu.so
                # trying /input/encodings.py
                # trying /usr/lib/python3.11/encodings.py
                import 'encodings' # <SourceFileLoader>
                # trying /input/_distutils_hack.abi3.so
                # trying /input/sitecustomize.py
                kiln-startup-probe-main
                # trying /input/after.py
                """;
        assertThat(WarmPools.parseProbe(stderr)).containsExactly("_distutils_hack", "encodings", "sitecustomize");
        assertThatThrownBy(() -> WarmPools.parseProbe("# trying /input/x.py\n")).isInstanceOf(IOException.class);
    }
}
