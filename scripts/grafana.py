"""A small model of Grafana dashboard JSON (schemaVersion 39), used by build_dashboards.py.

Writing the dashboards through these helpers keeps every panel on the one provisioned
datasource, gives panels unique ids and a non-overlapping grid, and keeps the JSON files
(the artefacts Grafana reads) reproducible: `build_dashboards.py --check` fails on drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The uid of the Prometheus datasource in config/grafana/provisioning/datasources/prometheus.yml.
DATASOURCE_UID = "promwire-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
SCHEMA_VERSION = 39
GRID_WIDTH = 24


@dataclass
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False

    def json(self, ref_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasource": DATASOURCE,
            "editorMode": "code",
            "expr": self.expr,
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": ref_id,
        }
        if self.table:
            out["format"] = "table"
        return out


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in steps]}


GREEN = ((None, "green"),)
BUSY = ((None, "green"), (80, "orange"), (90, "red"))


@dataclass
class Panel:
    """A panel: its type, title, queries, size and field settings."""

    kind: str
    title: str
    targets: list[Target]
    unit: str = "short"
    w: int = 12
    h: int = 8
    description: str = ""
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    steps: tuple[tuple[float | None, str], ...] = GREEN
    stack: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    mappings: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)

    def json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {"unit": self.unit, "thresholds": thresholds(*self.steps),
                                    "color": {"mode": COLOR_MODES.get(self.kind, "thresholds")},
                                    "mappings": self.mappings}
        for key in ("min", "max", "decimals"):
            if getattr(self, key) is not None:
                defaults[key] = getattr(self, key)
        custom = {**CUSTOM.get(self.kind, {}), **self.custom}
        if self.kind == "timeseries":
            custom["stacking"] = {"group": "A", "mode": "normal" if self.stack else "none"}
            custom["fillOpacity"] = 30 if self.stack else 10
        if custom:
            defaults["custom"] = custom
        return {
            "datasource": DATASOURCE,
            "description": self.description,
            "fieldConfig": {"defaults": defaults, "overrides": self.overrides},
            "gridPos": {"h": self.h, "w": self.w, "x": x, "y": y},
            "id": panel_id,
            "options": {**OPTIONS.get(self.kind, {}), **self.options},
            "targets": [t.json(chr(ord("A") + i)) for i, t in enumerate(self.targets)],
            "title": self.title,
            "transformations": self.transformations,
            "type": self.kind,
        }


COLOR_MODES = {"timeseries": "palette-classic", "state-timeline": "thresholds"}
REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}
OPTIONS: dict[str, dict[str, Any]] = {
    "timeseries": {"legend": {"calcs": ["mean", "max", "lastNotNull"], "displayMode": "table",
                              "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "desc"}},
    "stat": {"colorMode": "value", "graphMode": "area", "justifyMode": "auto",
             "orientation": "auto", "reduceOptions": REDUCE_LAST, "textMode": "auto"},
    "bargauge": {"displayMode": "gradient", "orientation": "horizontal",
                 "reduceOptions": REDUCE_LAST, "showUnfilled": True, "minVizHeight": 10,
                 "minVizWidth": 0, "valueMode": "color"},
    "state-timeline": {"alignValue": "left", "mergeValues": True, "rowHeight": 0.9,
                       "showValue": "auto", "legend": {"displayMode": "list",
                                                       "placement": "bottom",
                                                       "showLegend": True},
                       "tooltip": {"mode": "single", "sort": "none"}},
    "table": {"cellHeight": "sm", "showHeader": True,
              "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
}
CUSTOM: dict[str, dict[str, Any]] = {
    "timeseries": {"drawStyle": "line", "lineInterpolation": "linear", "lineWidth": 1,
                   "showPoints": "never", "spanNulls": False, "axisPlacement": "auto",
                   "gradientMode": "none"},
    "state-timeline": {"fillOpacity": 80, "lineWidth": 0},
    "table": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
}


def negative_y(regex: str) -> dict[str, Any]:
    """An override drawing the series whose name matches `regex` below the axis (write, tx)."""
    return {"matcher": {"id": "byRegexp", "options": regex},
            "properties": [{"id": "custom.transform", "value": "negative-Y"}]}


def query_variable(name: str, label: str, query: str, *, multi: bool = False,
                   all_value: str | None = None) -> dict[str, Any]:
    """A variable filled from the datasource by `label_values(...)`, refreshed on time change."""
    var: dict[str, Any] = {
        "current": {}, "datasource": DATASOURCE, "definition": query, "hide": 0,
        "includeAll": all_value is not None, "label": label, "multi": multi, "name": name,
        "options": [], "query": query, "refresh": 2, "regex": "", "skipUrlSync": False,
        "sort": 1, "type": "query",
    }
    if all_value is not None:
        var["allValue"] = all_value
    return var


@dataclass
class Dashboard:
    """Rows of panels laid out left to right, wrapping at Grafana's 24 columns."""

    uid: str
    title: str
    description: str
    tags: list[str]
    variables: list[dict[str, Any]] = field(default_factory=list)
    refresh: str = "30s"
    time_from: str = "now-1h"
    _panels: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def _next_id(self) -> int:
        return len(self._panels) + 1

    def _newline(self) -> None:
        self._y += self._row_h
        self._x, self._row_h = 0, 0

    def row(self, title: str) -> Dashboard:
        self._newline()
        self._panels.append({"collapsed": False, "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0,
                                                             "y": self._y},
                             "id": self._next_id(), "panels": [], "title": title,
                             "type": "row"})
        self._y += 1
        return self

    def add(self, *panels: Panel) -> Dashboard:
        for panel in panels:
            if self._x + panel.w > GRID_WIDTH:
                self._newline()
            self._panels.append(panel.json(self._next_id(), self._x, self._y))
            self._x += panel.w
            self._row_h = max(self._row_h, panel.h)
        return self

    def json(self) -> dict[str, Any]:
        return {
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard"}]},
            "description": self.description,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "links": [],
            "panels": self._panels,
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": self.tags,
            "templating": {"list": self.variables},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }


RATE = "$__rate_interval"


def ts(title: str, *targets: Target, **kw: Any) -> Panel:
    """A time series panel (half the width unless told)."""
    return Panel("timeseries", title, list(targets), **kw)


def stat(title: str, *targets: Target, **kw: Any) -> Panel:
    """A small single-value panel, eight to a row unless told."""
    kw.setdefault("w", 3)
    kw.setdefault("h", 4)
    return Panel("stat", title, list(targets), **kw)


def ok_mapping(zero: str, one: str) -> list[dict[str, Any]]:
    """Value mappings showing a 0/1 gauge (up, collector success) as words and colours."""
    return [{"type": "value", "options": {
        "0": {"text": zero, "color": "red", "index": 0},
        "1": {"text": one, "color": "green", "index": 1}}}]
