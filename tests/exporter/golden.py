"""The golden expositions: the fixture-reading collectors rendered in both formats.

`python -m tests.exporter.golden` rewrites the files after an intended change; review the diff.
"""

from __future__ import annotations

from pathlib import Path

from exporter.collectors import COLLECTORS
from exporter.exposition import render
from tests.exporter.helpers import fixture_config

GOLDEN = Path(__file__).resolve().parent / "golden"
NAMES = ("cpu", "diskstats", "loadavg", "meminfo", "pressure", "stat", "vmstat")


def build(openmetrics: bool) -> str:
    config = fixture_config()
    families = [f for name in NAMES for f in COLLECTORS[name](config).collect()]
    return render(families, openmetrics)


def paths() -> dict[bool, Path]:
    return {False: GOLDEN / "fixture.prom", True: GOLDEN / "fixture.openmetrics.txt"}


if __name__ == "__main__":
    for openmetrics, path in paths().items():
        path.write_text(build(openmetrics))
        print(f"wrote {path}")
