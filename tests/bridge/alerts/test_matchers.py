"""Alertmanager matcher syntax: parsing, escaping, anchoring, missing labels, refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bridge.alerts.matchers import filter_key, matches_all, parse_filters, parse_matcher
from bridge.errors import BadRequest

LABELS = {"alertname": "HostDiskFull", "severity": "critical", "instance": "h1:9100"}


@pytest.mark.parametrize(("text", "expected"), [
    ('severity="critical"', True),
    ("severity=critical", True),
    ('severity!="critical"', False),
    ('alertname=~"Host.*"', True),
    ('alertname=~"Disk"', False),          # anchored: must match the whole value
    ('alertname=~"Host.*|Node.*"', True),
    ('alertname!~"Host.*"', False),
    ('team=""', True),                     # a missing label matches as ""
    ('team!=""', False),
    ('team=~".*"', True),
    ('team=~".+"', False),
    ('  severity  =  "critical"  ', True),
])
def test_matching(text, expected):
    assert parse_matcher(text).matches(LABELS) is expected


def test_quoted_values_unescape_like_alertmanager():
    m = parse_matcher(r'summary="She said: \"Hi, all\" \\ done\n"')
    assert m.value == 'She said: "Hi, all" \\ done\n'
    assert parse_matcher(r'path="C:\temp"').value == "C:\\temp"  # lone backslash is literal


def test_lists_braces_and_repeated_filters_are_anded():
    matchers = parse_filters(['{severity="critical", alertname=~"Host.*",}', "instance=h1:9100"])
    assert len(matchers) == 3 and matches_all(matchers, LABELS)
    assert not matches_all(parse_filters(['severity="critical"', 'instance="h2"']), LABELS)
    commas = parse_filters(['summary=~"a,b"'])
    assert len(commas) == 1 and commas[0].value == "a,b"


def test_filter_key_is_order_independent():
    a = parse_filters(['a="1"', 'b!~"x"'])
    b = parse_filters(['b!~"x"', 'a="1"'])
    assert filter_key(a) == filter_key(b)


@pytest.mark.parametrize(("text", "message"), [
    ("severity", "expected NAME=VALUE"),
    ('1abc="x"', "expected NAME=VALUE"),
    ('a=~"("', "invalid regular expression"),
    ('a="x', "missing closing double quote"),
    ('a="x"y"', "unescaped double quote"),
    ('a=~"(?=x)"', "look-around"),
    ('a=~"(a)\\1"', "back-references"),
    ('a="' + "x" * 300 + '"', "longer than"),
])
def test_bad_matchers_say_what_is_wrong(text, message):
    with pytest.raises(BadRequest, match=message):
        parse_matcher(text)


def test_empty_and_too_many_filters():
    with pytest.raises(BadRequest, match="empty filter"):
        parse_filters(["{}"])
    with pytest.raises(BadRequest, match="too many matchers"):
        parse_filters([f'l{i}="x"' for i in range(21)], limit=20)


def test_regexes_take_linear_time_like_alertmanagers():
    """A reader's filter runs on the event loop for every event: `(a|a)*b` against a long label
    value backtracks for longer than the universe in Python's `re`, and is instant in RE2
    (Alertmanager's engine). Run in a child process so that a regression fails the test (its
    timeout is a guard against a hang, not a measurement) instead of hanging the suite."""
    code = ("from bridge.alerts.matchers import parse_filters, matches_all\n"
            "m = parse_filters(['instance=~\"(a|a)*b\"', 'job!~\"(x+x+)+y\"'])\n"
            "print(matches_all(m, {'instance': 'a' * 50_000, 'job': 'x' * 50_000}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert parse_matcher('instance=~"(a|a)*"').matches({"instance": "a" * 50_000})


def test_rejected_regexes_leave_no_trace_in_the_log(capfd):
    with pytest.raises(BadRequest, match="invalid regular expression: missing \\)"):
        parse_matcher('a=~"(x"')
    assert capfd.readouterr().err == ""
