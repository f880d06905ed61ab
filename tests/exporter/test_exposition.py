"""Exposition: escaping, number formats, OpenMetrics naming, and the golden files."""

from __future__ import annotations

import math

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from exporter.exposition import (
    Desc,
    Family,
    RenderedFamily,
    format_value,
    go_float,
    render,
    single,
)
from tests.exporter import golden
from tests.exporter.helpers import samples


@pytest.mark.parametrize("openmetrics", [False, True])
def test_golden(openmetrics):
    expected = golden.paths()[openmetrics].read_text()
    assert golden.build(openmetrics) == expected


def test_golden_openmetrics_parses_as_openmetrics():
    families = {f.name: f for f in parse_om(golden.paths()[True].read_text())}
    assert families["node_cpu_seconds"].type == "counter"
    assert families["node_vmstat_pgfault"].type == "unknown"
    assert families["node_memory_MemTotal_bytes"].samples[0].value == 3742148 * 1024


def test_label_values_and_help_are_escaped():
    desc = Desc("x_total", 'Help with \\ and\nnewline and "quotes".', "counter", ("path",))
    text = render([single(desc, 1, ('C:\\dir "q"\nline',))])
    assert '# HELP x_total Help with \\\\ and\\nnewline and "quotes".\n' in text
    assert 'x_total{path="C:\\\\dir \\"q\\"\\nline"} 1\n' in text
    assert samples(text) == {("x_total", (("path", 'C:\\dir "q"\nline'),)): 1}
    om = render([single(desc, 1, ('a"b',))], openmetrics=True)
    assert '# HELP x Help with \\\\ and\\nnewline and \\"quotes\\".\n' in om
    assert om.endswith("# EOF\n")
    assert [s.labels for f in parse_om(om) for s in f.samples] == [{"path": 'a"b'}]


def test_openmetrics_names():
    counter_without_total = Desc("odd", "h", "counter")
    untyped = Desc("u", "h", "untyped")
    om = render([single(counter_without_total, 2), single(untyped, 3)], openmetrics=True)
    assert "# TYPE odd counter\n" in om and "odd_total 2\n" in om
    assert "# TYPE u unknown\n" in om
    assert {f.name: f.type for f in parse_om(om)} == {"odd": "counter", "u": "unknown"}


def test_values():
    assert format_value(3) == "3"
    assert format_value(0.1) == "0.1"
    assert format_value(1e-07) == "1e-07"
    assert format_value(math.inf) == "+Inf" and format_value(-math.inf) == "-Inf"
    assert format_value(math.nan) == "NaN"
    assert float(format_value(2**53 + 0.0)) == 2**53


@pytest.mark.parametrize("value,expected", [
    (0.5, "0.5"), (100.0, "100"), (123456.0, "123456"), (1638400.0, "1.6384e+06"),
    (1e-05, "1e-05"), (0.0001, "0.0001"), (-2.5e21, "-2.5e+21"), (0.0, "0"),
    (math.inf, "+Inf"), (840923.7919437207, "840923.7919437207")])
def test_go_float(value, expected):
    assert go_float(value) == expected


def test_duplicate_family_names_render_once():
    desc = Desc("dup", "h", "gauge")
    text = render([single(desc, 1), RenderedFamily("dup", "# TYPE dup gauge\ndup 2\n", ""),
                   single(Desc("other", "h", "gauge"), 3)])
    assert samples(text) == {("dup", ()): 1, ("other", ()): 3}


def test_wrong_label_count_is_a_bug_not_output():
    fam = Family(Desc("x", "h", "gauge", ("a", "b")), [(("only-one",), 1)])
    with pytest.raises(ValueError):
        render([fam])


def test_label_set_cache_stays_bounded():
    from exporter import exposition

    desc = Desc("churn", "h", "gauge", ("device",))
    n = exposition.MAX_CACHED_LABEL_SETS + 10
    fam = Family(desc, [((f"veth{i}",), i) for i in range(n)])
    text = render([fam])
    assert len(desc._prefixes) <= exposition.MAX_CACHED_LABEL_SETS
    assert text.count("\n") == n + 2 and f'churn{{device="veth{n - 1}"}} {n - 1}\n' in text
