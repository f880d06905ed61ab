"""The text-format parser used by the textfile collector: what it accepts and rejects."""

from __future__ import annotations

import math

import pytest

from exporter.textparse import ParseError, parse


def test_families_keep_their_written_names_and_parts():
    result = parse('# HELP jobs_total Jobs, with a \\\\ and a \\n.\n# TYPE jobs_total counter\n'
                   'jobs_total{kind="a\\"b",} 3\n'
                   "# TYPE lat summary\nlat{quantile=\"0.5\"} 1\nlat_sum 10\nlat_count 4\n"
                   "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
                   "h_sum 5\nh_count 3\nbare NaN\n")
    fams = result.families
    assert fams["jobs_total"].type == "counter"
    assert fams["jobs_total"].help == "Jobs, with a \\ and a \n."
    assert fams["jobs_total"].metrics[0].labels == {"kind": 'a"b'}
    lat = fams["lat"].metrics[0]
    assert (lat.points, lat.sum, lat.count) == ({0.5: 1.0}, 10.0, 4.0)
    h = fams["h"].metrics[0]
    assert h.points == {1.0: 2.0, math.inf: 3.0} and h.count == 3.0
    assert fams["bare"].type == "untyped" and math.isnan(fams["bare"].metrics[0].value)
    assert not result.has_timestamps


def test_timestamps_are_noticed():
    assert parse("x 1 1441205977284\n").has_timestamps


@pytest.mark.parametrize("text", [
    'x{a="b" 1\n',                      # unterminated labels
    'x{a="b\\q"} 1\n',                  # bad escape
    'x{a="1",a="2"} 1\n',               # duplicate label
    'x{__name__="y"} 1\n',              # reserved label
    'x{1a="b"} 1\n',                    # bad label name
    "x 1_000\n",                        # not a Go float
    "x\n",                              # no value
    "x 1 2 3\n",                        # trailing garbage
    "x 1 soon\n",                       # bad timestamp
    "x 1\n# TYPE x gauge\n",            # TYPE after samples
    "# TYPE x gauge\n# TYPE x gauge\n",  # second TYPE
    "# HELP x a\n# HELP x b\n",         # second HELP
    "# TYPE x quantity\n",              # unknown type
    "# TYPE s summary\ns 1\n",          # summary sample without quantile
    "# TYPE h histogram\nh_bucket 1\n",  # bucket without le
    "x 1\nx 2\n",                       # duplicate series
    "9x 1\n",                           # bad metric name
])
def test_malformed_input_is_an_error_naming_the_line(text):
    with pytest.raises(ParseError, match="line"):
        parse(text)


def test_comments_and_blank_lines_are_ignored():
    assert set(parse("# just a comment\n\n   \nx 1\n").families) == {"x"}
