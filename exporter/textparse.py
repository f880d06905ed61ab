"""A strict parser for the Prometheus text format, for the textfile collector.

It follows Go's expfmt.TextParser, which node_exporter uses on the same files: families keep
the name their TYPE/HELP lines give (`events_total`, not `events`), `_sum`/`_count`/`_bucket`
lines join their summary or histogram, samples before a TYPE line make the family untyped, and
anything malformed is an error naming the line, so the collector can skip that one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exporter.exposition import TYPES

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf(?:inity)?|nan))")
TIMESTAMP = re.compile(r"-?\d+")


class ParseError(ValueError):
    """The file is not valid text format; the message names the line."""


@dataclass
class Metric:
    """One series (counter/gauge/untyped) or one summary/histogram with its parts."""

    labels: dict[str, str]
    value: float = 0.0
    # summary quantiles or histogram buckets: bound -> value, in file order
    points: dict[float, float] = field(default_factory=dict)
    sum: float = 0.0
    count: float = 0.0


@dataclass
class ParsedFamily:
    name: str
    help: str | None = None
    type: str | None = None
    metrics: list[Metric] = field(default_factory=list)
    # metrics by their labels (for summaries and histograms, without quantile/le)
    by_labels: dict[tuple[tuple[str, str], ...], Metric] = field(default_factory=dict)


@dataclass
class ParseResult:
    families: dict[str, ParsedFamily]
    has_timestamps: bool = False


def parse_float(text: str) -> float:
    if not FLOAT.fullmatch(text):
        raise ValueError(f"invalid number {text!r}")
    return float(text)


def _unescape(value: str, what: str) -> str:
    if "\\" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            nxt = value[i + 1:i + 2]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            elif nxt == '"' and what == "label":
                out.append('"')
            else:
                raise ValueError(f"invalid escape sequence \\{nxt} in {what}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse `{a="b",...}` starting at text[pos] == '{'; returns labels and the end index."""
    labels: dict[str, str] = {}
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        m = LABEL_NAME.match(text, pos)
        if m is None:
            raise ValueError(f"invalid label name at column {pos + 1}")
        name = m.group()
        if name.startswith("__"):
            raise ValueError(f"label name {name!r} is reserved")
        pos = m.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if text[pos:pos + 2] != '="':
            raise ValueError(f"expected =\"...\" after label {name!r}")
        pos += 2
        start = pos
        while pos < len(text) and text[pos] != '"':
            pos += 2 if text[pos] == "\\" else 1
        if pos >= len(text):
            raise ValueError(f"unterminated value for label {name!r}")
        if name in labels:
            raise ValueError(f"duplicate label {name!r}")
        labels[name] = _unescape(text[start:pos], "label")
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        else:
            raise ValueError("expected , or } after a label value")


class _Parser:
    def __init__(self) -> None:
        self.families: dict[str, ParsedFamily] = {}
        self.has_timestamps = False

    def family_for(self, name: str) -> tuple[ParsedFamily, str]:
        """The family a sample name belongs to, and its role: '', sum, count or bucket."""
        fam = self.families.get(name)
        if fam is not None and fam.type not in ("summary", "histogram"):
            return fam, ""
        for suffix, kinds in (("_sum", ("summary", "histogram")),
                              ("_count", ("summary", "histogram")), ("_bucket", ("histogram",))):
            if name.endswith(suffix):
                base = self.families.get(name[:-len(suffix)])
                if base is not None and base.type in kinds:
                    return base, suffix[1:]
        if fam is not None:
            return fam, ""
        fam = self.families[name] = ParsedFamily(name)
        return fam, ""

    def comment(self, line: str) -> None:
        parts = line[1:].lstrip(" \t").split(None, 2)
        if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
            return  # an ordinary comment
        keyword, name = parts[0], parts[1]
        rest = parts[2] if len(parts) > 2 else ""
        if not METRIC_NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = ParsedFamily(name)
        if keyword == "HELP":
            if fam.help is not None:
                raise ValueError(f"second HELP line for metric name {name!r}")
            fam.help = _unescape(rest.rstrip("\n"), "help")
            return
        kind = rest.strip().lower()
        if kind not in TYPES:
            raise ValueError(f"unknown metric type {rest.strip()!r}")
        if fam.type is not None or fam.metrics:
            raise ValueError(f"second TYPE line for metric name {name!r}, or TYPE reported "
                             f"after samples")
        fam.type = kind

    def sample(self, line: str) -> None:
        m = METRIC_NAME.match(line)
        if m is None:
            raise ValueError("invalid metric name")
        name, pos = m.group(), m.end()
        labels: dict[str, str] = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _labels(line, pos)
        tokens = line[pos:].split()
        if not tokens or (pos < len(line) and line[pos] not in " \t"):
            raise ValueError(f"expected a value after {name!r}")
        if len(tokens) > 2:
            raise ValueError(f"unexpected {tokens[2]!r} after the value")
        value = parse_float(tokens[0])
        if len(tokens) == 2:
            if not TIMESTAMP.fullmatch(tokens[1]):
                raise ValueError(f"invalid timestamp {tokens[1]!r}")
            self.has_timestamps = True
        fam, role = self.family_for(name)
        if fam.type is None:
            fam.type = "untyped"
        if fam.type in ("summary", "histogram"):
            self.add_part(fam, role, labels, value)
            return
        key = tuple(sorted(labels.items()))
        if key in fam.by_labels:
            raise ValueError(f"duplicate series {name}{labels}")
        fam.by_labels[key] = metric = Metric(labels, value)
        fam.metrics.append(metric)

    def add_part(self, fam: ParsedFamily, role: str, labels: dict[str, str],
                 value: float) -> None:
        bound_label = "quantile" if fam.type == "summary" else "le"
        bound = None
        if role in ("", "bucket"):
            if bound_label not in labels:
                raise ValueError(f"{fam.type} sample without a {bound_label!r} label")
            try:
                bound = parse_float(labels.pop(bound_label))
            except ValueError as exc:
                raise ValueError(f"invalid {bound_label!r} label: {exc}") from None
            if fam.type == "histogram" and role == "":
                raise ValueError(f"histogram sample {fam.name!r} without _bucket suffix")
        key = tuple(sorted(labels.items()))
        metric = fam.by_labels.get(key)
        if metric is None:
            metric = fam.by_labels[key] = Metric(labels)
            fam.metrics.append(metric)
        if bound is not None:
            metric.points[bound] = value
        elif role == "sum":
            metric.sum = value
        else:
            metric.count = value


def parse(text: str) -> ParseResult:
    """Parse a whole text-format document; raises ParseError naming the bad line."""
    parser = _Parser()
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip(" \t")
        if not stripped:
            continue
        try:
            if stripped.startswith("#"):
                parser.comment(stripped)
            else:
                parser.sample(stripped)
        except ValueError as exc:
            raise ParseError(f"line {number}: {exc}") from None
    for fam in parser.families.values():
        if fam.type is None:
            fam.type = "untyped"
    return ParseResult({n: f for n, f in parser.families.items() if f.metrics},
                       parser.has_timestamps)
