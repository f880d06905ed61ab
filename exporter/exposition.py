"""Metric families and their text rendering: the exporter's hot path.

A `Desc` is the fixed part of a family (name, help, type, label names). Its HELP/TYPE headers
and the `name{label="value",...} ` prefix of every label set it has seen are rendered once and
reused on every scrape, so a scrape costs one dict lookup, one number format and one string
concatenation per sample, then a single join. prometheus_client's generic exposition spends
most of a node scrape in exactly this formatting, hence the hand-written renderer.

Both formats are served from the same families: Prometheus text 0.0.4 and OpenMetrics 1.0
(counter families drop `_total` from their name in OpenMetrics headers; `untyped` is
`unknown`; the body ends with `# EOF`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

TYPES = ("counter", "gauge", "untyped", "summary", "histogram")
# Per family; far above any one scrape's label sets (512 CPUs x 8 modes is 4096).
MAX_CACHED_LABEL_SETS = 20_000


def escape_label_value(value: str) -> str:
    """Escape a label value for both formats (backslash, double quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def escape_help(text: str, openmetrics: bool = False) -> str:
    """Escape HELP text: backslash and newline; OpenMetrics also escapes double quotes."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if openmetrics:
        text = text.replace('"', '\\"')
    return text


def format_value(value: float | int) -> str:
    """A sample value as both formats accept it: ints as ints, floats shortest round-trip."""
    if value.__class__ is int:
        return str(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return repr(value)


def go_float(value: float) -> str:
    """Format like Go's strconv.FormatFloat(v, 'g', -1, 64), as client_golang writes floats.

    Shortest round-trip digits (Python's repr has the same ones), exponent form when the
    decimal exponent is < -4 or >= 6. Used where a float becomes a label value (histogram
    `le`, summary `quantile`), so textfile series keep node_exporter's label values.
    """
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    from decimal import Decimal  # only textfile histograms and summaries need it

    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    nd = len(digits)
    point = nd + int(exponent)
    exp = point - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{minus}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= nd:
        return f"{minus}{digits}{'0' * (point - nd)}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


class Desc:
    """A family's fixed parts, with its headers and label-set prefixes rendered once."""

    __slots__ = ("_prefixes", "help", "labelnames", "name", "om_header", "om_sample", "text_header",
                 "type")

    def __init__(self, name: str, help: str, type: str, labelnames: Sequence[str] = ()) -> None:
        if type not in TYPES:
            raise ValueError(f"unknown metric type {type!r}")
        self.name, self.help, self.type = name, help, type
        self.labelnames = tuple(labelnames)
        self.text_header = f"# HELP {name} {escape_help(help)}\n# TYPE {name} {type}\n"
        om_name = name
        self.om_sample = name
        if type == "counter":
            if name.endswith("_total"):
                om_name = name[:-6]
            else:
                self.om_sample = name + "_total"
        om_type = "unknown" if type == "untyped" else type
        self.om_header = (f"# TYPE {om_name} {om_type}\n"
                          f"# HELP {om_name} {escape_help(help, True)}\n")
        self._prefixes: dict[tuple[str, ...], tuple[str, str]] = {}

    def prefixes(self, labelvalues: tuple[str, ...]) -> tuple[str, str]:
        """`name{labels} ` for text and OpenMetrics, cached per label-value tuple."""
        got = self._prefixes.get(labelvalues)
        if got is None:
            if len(labelvalues) != len(self.labelnames):
                raise ValueError(f"{self.name}: expected labels {self.labelnames}, "
                                 f"got values {labelvalues}")
            labels = ",".join(f'{k}="{escape_label_value(v)}"'
                              for k, v in zip(self.labelnames, labelvalues, strict=True))
            labels = "{" + labels + "}" if labels else ""
            got = (f"{self.name}{labels} ", f"{self.om_sample}{labels} ")
            if len(self._prefixes) >= MAX_CACHED_LABEL_SETS:
                self._prefixes.clear()  # label churn (veths, mounts) must not grow memory
            self._prefixes[labelvalues] = got
        return got

    def __repr__(self) -> str:
        return f"Desc({self.name!r}, {self.type})"


@dataclass(slots=True)
class Family:
    """One scrape's samples of a `Desc`: (label values, value) pairs."""

    desc: Desc
    samples: list[tuple[tuple[str, ...], float | int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.desc.name

    def add(self, labelvalues: tuple[str, ...], value: float | int) -> None:
        self.samples.append((labelvalues, value))

    def render(self, out: list[str], openmetrics: bool) -> None:
        desc = self.desc
        out.append(desc.om_header if openmetrics else desc.text_header)
        cache = desc._prefixes
        index = 1 if openmetrics else 0
        for labelvalues, value in self.samples:
            pre = cache.get(labelvalues) or desc.prefixes(labelvalues)
            if value.__class__ is int:
                out.append(f"{pre[index]}{value}\n")
            else:
                out.append(f"{pre[index]}{format_value(value)}\n")


@dataclass(slots=True)
class RenderedFamily:
    """A family whose lines are already rendered in both formats (textfile, build info)."""

    name: str
    text: str
    openmetrics: str

    def render(self, out: list[str], openmetrics: bool) -> None:
        out.append(self.openmetrics if openmetrics else self.text)


MetricFamily = Family | RenderedFamily


def single(desc: Desc, value: float | int, labelvalues: tuple[str, ...] = ()) -> Family:
    """A family with one sample."""
    return Family(desc, [(labelvalues, value)])


def render(families: Iterable[MetricFamily], openmetrics: bool = False) -> str:
    """The exposition of `families`, each name once (later duplicates are dropped)."""
    out: list[str] = []
    seen: set[str] = set()
    for fam in families:
        if fam.name in seen:
            continue
        seen.add(fam.name)
        fam.render(out, openmetrics)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out)


def varying_labels(samples: Sequence[tuple[Desc, tuple[str, ...], float | int]]
                   ) -> RenderedFamily:
    """One family whose samples have different label names, as node_exporter's info metrics
    with only the labels a device has (node_power_supply_info). Every Desc shares the name,
    help and type; the first gives the headers."""
    first = samples[0][0]
    text, om = [first.text_header], [first.om_header]
    for desc, labelvalues, value in samples:
        plain, open_pre = desc.prefixes(labelvalues)
        number = format_value(value)
        text.append(f"{plain}{number}\n")
        om.append(f"{open_pre}{number}\n")
    return RenderedFamily(first.name, "".join(text), "".join(om))
