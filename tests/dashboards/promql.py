"""What Grafana does to a dashboard query before Prometheus sees it, and the parts of PromQL the
dashboard tests check: variable expansion, `label_values(...)` variable queries, the metric
selectors and matchers of an expression, and the `{{label}}` names of a legend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"

# Grafana's global variables, as a 1 s scrape interval makes them: $__rate_interval is at least
# four scrape intervals; $__range is the dashboard's time range (the stack holds less data than
# that, which is what a freshly started Prometheus looks like too).
GLOBALS = {
    "__rate_interval": "10s", "__interval": "5s", "__interval_ms": "5000",
    "__range": "1m", "__range_s": "60", "__range_ms": "60000",
}
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_PLAIN_ALTERNATIVES = re.compile(r"^[\w:/-]+(\|[\w:/-]+)*$")
_LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, the ones inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class Query:
    """One target of one panel, named for test ids and messages."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    legend: str
    instant: bool

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref_id}]"


def queries(dashboards: dict[str, dict[str, Any]]) -> list[Query]:
    return [Query(d["uid"], p["title"], t["refId"], t["expr"], t.get("legendFormat", ""),
                  bool(t.get("instant")))
            for d in dashboards.values() for p in panels(d) if p.get("type") != "row"
            for t in p.get("targets", [])]


def variables_used(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)}


def expand(text: str, values: dict[str, str]) -> str:
    """`text` with every `$var`, `${var}`, `${var:fmt}` and `[[var]]` replaced by its value.

    A variable that is neither the dashboard's nor a Grafana global raises KeyError: Grafana
    would send it to Prometheus verbatim, and the panel would show an error.
    """
    known = {**GLOBALS, **values}

    def sub(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in known:
            raise KeyError(f"unknown variable ${name} in {text!r}")
        return known[name]

    return _VARIABLE.sub(sub, text)


def label_values(query: str) -> tuple[str | None, str]:
    """(selector or None, label) of a `label_values([selector, ]label)` variable query."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(f"not a label_values() query: {query!r}")
    return match.group(1), match.group(2)


def variable_value(variable: dict[str, Any], found: list[str]) -> str:
    """What Grafana substitutes: the All value for multi/All variables, else the first value."""
    if variable.get("includeAll"):
        return variable.get("allValue") or "(" + "|".join(re.escape(v) for v in found) + ")"
    return sorted(found)[0]


@dataclass(frozen=True)
class Matcher:
    metric: str
    label: str
    op: str
    value: str


def matchers(expr: str) -> list[Matcher]:
    """The label matchers of every `metric{...}` selector in `expr`."""
    return [Matcher(sel.group(1), m.group(1), m.group(2), m.group(3))
            for sel in _SELECTOR.finditer(expr) for m in _MATCHER.finditer(sel.group(2))]


def named_values(matcher: Matcher) -> list[str]:
    """The label values a matcher names literally: `=`/`!=` values and the alternatives of a
    plain `a|b` regex. Real regexes (`5..`, `.*`) name none."""
    if matcher.op in ("=", "!="):
        return [matcher.value]
    if _PLAIN_ALTERNATIVES.match(matcher.value):
        return matcher.value.split("|")
    return []


def metric_names(expr: str) -> set[str]:
    return {sel.group(1) for sel in _SELECTOR.finditer(expr)}


def legend_labels(legend: str) -> set[str]:
    return set(_LEGEND_LABEL.findall(legend))
