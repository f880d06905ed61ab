"""What `promwire-watch` prints: a Snapshot and the firing alerts as a small text table.

Pure functions from data to text, so the view is tested without a terminal or a bridge.
One row per host (the `instance` label): CPU and memory in percent, the fullest disk with its
mount point, network receive/transmit summed over interfaces, and the 1-minute load. One row per
firing alert, with its cluster ("default" when the bridge sends none) and state: active,
silenced, inhibited (Alertmanager's suppressed, by a silence or an inhibition) or acked, each
ack then spelled out on a line of its own (by whom, since when, why).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bridge.client.buffer import sample_value

COLUMNS = ("HOST", "CPU", "MEM", "DISK", "NET RX", "NET TX", "LOAD1")


def fmt_percent(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    return f"{value:.1f}%"


def fmt_rate(value: float | None) -> str:
    """Bytes per second in binary units, short."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    for unit in ("B/s", "KiB/s", "MiB/s", "GiB/s"):
        if abs(value) < 1024 or unit == "GiB/s":
            return f"{value:.0f} {unit}" if unit == "B/s" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB/s"  # pragma: no cover - loop always returns


def fmt_number(value: float | None) -> str:
    if value is None:
        return "-"
    return "NaN" if math.isnan(value) else f"{value:.2f}"


def _samples(snapshot: Mapping[str, Any], metric: str) -> Iterable[Mapping[str, Any]]:
    body = (snapshot.get("metrics") or {}).get(metric)
    return body.get("samples") or () if isinstance(body, Mapping) else ()


def _value(sample: Mapping[str, Any]) -> float | None:
    try:
        return sample_value(sample.get("value"))
    except (TypeError, ValueError):
        return None


def host_rows(snapshot: Mapping[str, Any]) -> list[list[str]]:
    """One row of formatted cells per instance, sorted by instance."""
    hosts: dict[str, dict[str, Any]] = {}

    def host(sample: Mapping[str, Any]) -> dict[str, Any]:
        return hosts.setdefault(str(sample.get("instance", "?")), {})

    for metric in ("cpu", "memory", "load1"):
        for sample in _samples(snapshot, metric):
            host(sample)[metric] = _value(sample)
    for sample in _samples(snapshot, "disk"):
        value, row = _value(sample), host(sample)
        if value is not None and (row.get("disk") is None or value > row["disk"][0]
                                  or math.isnan(row["disk"][0])):
            row["disk"] = (value, (sample.get("labels") or {}).get("mountpoint", "?"))
    for sample in _samples(snapshot, "network"):
        direction = (sample.get("labels") or {}).get("direction")
        value = _value(sample)
        if direction in ("receive", "transmit") and value is not None:
            row = host(sample)
            row[direction] = row.get(direction, 0.0) + value
    rows = []
    for name in sorted(hosts):
        row = hosts[name]
        disk = row.get("disk")
        rows.append([name, fmt_percent(row.get("cpu")), fmt_percent(row.get("memory")),
                     f"{fmt_percent(disk[0])} {disk[1]}" if disk else "-",
                     fmt_rate(row.get("receive")), fmt_rate(row.get("transmit")),
                     fmt_number(row.get("load1"))])
    return rows


def table(header: Iterable[str], rows: list[list[str]]) -> list[str]:
    header = list(header)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in [header, *rows]]
    return lines


def snapshot_lines(snapshot: Mapping[str, Any] | None, now: float | None = None) -> list[str]:
    if snapshot is None:
        return ["(no data yet)"]
    now = time.time() if now is None else now
    stamp = snapshot.get("timestamp")
    lines = []
    if isinstance(stamp, int | float):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))
        age = max(0.0, now - stamp)
        head = f"values at {when} (age {age:.1f}s)"
    else:
        head = "values"
    if snapshot.get("stale"):
        head += "  STALE"
    lines.append(head)
    rows = host_rows(snapshot)
    lines += table(COLUMNS, rows) if rows else ["(no hosts reported)"]
    for name, error in sorted((snapshot.get("errors") or {}).items()):
        detail = error.get("detail") if isinstance(error, Mapping) else error
        lines.append(f"error in {name}: {detail}")
    for warning in snapshot.get("warnings") or ():
        lines.append(f"warning: {warning}")
    return lines


def alert_state(alert: Mapping[str, Any]) -> str:
    """acked, silenced, inhibited, suppressed (neither said) or active."""
    if alert.get("ack"):
        return "acked"
    if alert.get("state") != "suppressed":
        return "active"
    if alert.get("silencedBy"):
        return "silenced"
    return "inhibited" if alert.get("inhibitedBy") else "suppressed"


def fmt_time(text: Any) -> str:
    """An RFC 3339 time as local `YYYY-MM-DD HH:MM:SS`; anything else as given."""
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def ack_line(alert: Mapping[str, Any]) -> str:
    """`acked HostDown (a:9100, cluster eu) by alice since ... until ...: on it`."""
    labels, ack = alert.get("labels") or {}, alert.get("ack") or {}
    where = [labels["instance"]] if labels.get("instance") else []
    where.append(f"cluster {alert.get('cluster') or 'default'}")
    line = f"acked {labels.get('alertname', '-')} ({', '.join(where)}) by {ack.get('by') or '?'}"
    if ack.get("since"):
        line += f" since {fmt_time(ack['since'])}"
    if ack.get("until"):
        line += f" until {fmt_time(ack['until'])}"
    return line + (f": {ack['comment']}" if ack.get("comment") else "")


def alert_lines(alerts: Iterable[Mapping[str, Any]] | None, note: str = "") -> list[str]:
    """The firing alerts, most severe first, then what each ack says."""
    if alerts is None:
        return [f"alerts: {note or 'unavailable'}"]
    firing = [a for a in alerts if a.get("status", "firing") == "firing"]
    order = {"critical": 0, "warning": 1, "info": 2}
    firing.sort(key=lambda a: (order.get((a.get("labels") or {}).get("severity", ""), 3),
                               (a.get("labels") or {}).get("alertname", "")))
    lines = [f"firing alerts: {len(firing)}" + (f"  ({note})" if note else "")]
    rows = []
    for alert in firing:
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        rows.append([labels.get("severity", "-"), labels.get("alertname", "-"),
                     str(alert.get("cluster") or "default"), labels.get("instance", "-"),
                     alert_state(alert), str(alert.get("startsAt") or "-"),
                     annotations.get("summary") or annotations.get("description") or ""])
    if rows:
        lines += ["  " + line for line in table(
            ("SEVERITY", "ALERT", "CLUSTER", "INSTANCE", "STATE", "SINCE", "SUMMARY"), rows)]
    lines += ["  " + ack_line(alert) for alert in firing if alert.get("ack")]
    return lines


def render(url: str, snapshot: Mapping[str, Any] | None,
           alerts: Iterable[Mapping[str, Any]] | None, states: Mapping[str, str] | None = None,
           alerts_note: str = "", now: float | None = None) -> str:
    """The whole screen: a header with the connection states, the hosts, the alerts."""
    head = f"promwire-watch  {url}"
    if states:
        head += "  " + "  ".join(f"{name}: {state}" for name, state in states.items())
    lines = [head, "", *snapshot_lines(snapshot, now), "", *alert_lines(alerts, alerts_note)]
    return "\n".join(lines) + "\n"
