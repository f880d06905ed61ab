#!/usr/bin/env python3
"""Write the Grafana dashboards in dashboards/ from their definitions in scripts/dashboard_*.py.

    python scripts/build_dashboards.py          # (re)write dashboards/*.json
    python scripts/build_dashboards.py --check  # exit 1 if a JSON file differs from its source

The JSON files are what Grafana's file provider loads (config/grafana/provisioning/dashboards/);
tests/dashboards/test_dashboards.py runs every query in them against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_alerts import alerts
from dashboard_bridge import bridge
from dashboard_host import host
from grafana import Dashboard

OUT = Path(__file__).resolve().parent.parent / "dashboards"
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "promwire-host.json": host,
    "promwire-bridge.json": bridge,
    "promwire-alerts.json": alerts,
}


def render(build: Callable[[], Dashboard]) -> str:
    return json.dumps(build().json(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    ap.add_argument("--out", default=str(OUT), help="directory (default dashboards/)")
    args = ap.parse_args()
    out = Path(args.out)
    stale = []
    for name, build in DASHBOARDS.items():
        text, path = render(build), out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date (run scripts/build_dashboards.py): {', '.join(stale)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
