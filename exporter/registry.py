"""Runs the enabled collectors for a scrape, times each, and renders the exposition.

A collector that raises is reported with `node_scrape_collector_success 0`; whatever it
yielded before failing is kept and the other collectors are untouched. The failure is logged
once when it starts (and its recovery once when it ends), not on every scrape.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections.abc import Iterable

from exporter import __version__
from exporter.collectors import COLLECTORS, Collector, NoDataError
from exporter.config import ExporterConfig
from exporter.exposition import Desc, Family, MetricFamily, RenderedFamily, escape_help, render
from exporter.selfmetrics import ProcessMetrics

log = logging.getLogger("exporter")

DURATION = Desc("node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.", "gauge", ("collector",))
SUCCESS = Desc("node_scrape_collector_success", "node_exporter: Whether a collector succeeded.",
               "gauge", ("collector",))


BUILD_INFO = Desc("promwire_exporter_build_info", "A metric with a constant '1' value labeled "
                  "by version, Python version and platform of the promwire exporter.", "gauge",
                  ("platform", "python_version", "version"))


def build_info() -> RenderedFamily:
    """promwire_exporter_build_info, rendered once (OpenMetrics calls it an info family).

    prometheus_client could render it, but importing it costs ~12 MiB of RSS for one line.
    """
    labels = (sys.platform, platform.python_version(), __version__)
    text = render([Family(BUILD_INFO, [(labels, 1)])])
    label_text = text.rsplit("{", 1)[1].split("}", 1)[0]
    help_text = escape_help(BUILD_INFO.help, openmetrics=True)
    openmetrics = (f"# TYPE promwire_exporter_build info\n"
                   f"# HELP promwire_exporter_build {help_text}\n"
                   f"promwire_exporter_build_info{{{label_text}}} 1\n")
    return RenderedFamily(BUILD_INFO.name, text, openmetrics)


class Registry:
    """The enabled collectors of one exporter, by name."""

    def __init__(self, config: ExporterConfig,
                 collectors: dict[str, Collector] | None = None) -> None:
        self.config = config
        if collectors is None:
            collectors = {name: COLLECTORS[name](config) for name in sorted(config.collectors)}
        self.collectors = collectors
        self.build_info = build_info()
        # The exporter's own process_* families, as node_exporter serves them beside the
        # node_* ones (also for ?collect[]=...), unless --web.disable-exporter-metrics.
        self.process = None if config.disable_exporter_metrics else ProcessMetrics()
        self._failing: set[str] = set()

    @property
    def names(self) -> list[str]:
        return list(self.collectors)

    def run(self, name: str, collector: Collector, out: list[MetricFamily]) -> tuple[float, int]:
        """Append one collector's families to `out`; (duration, success)."""
        start = time.perf_counter()
        try:
            for family in collector.collect():
                out.append(family)
        except Exception as exc:
            self.failed(name, exc)
            return time.perf_counter() - start, 0
        if name in self._failing:
            self._failing.discard(name)
            log.info("collector %s succeeded again", name)
        return time.perf_counter() - start, 1

    def failed(self, name: str, exc: Exception) -> None:
        problem = f"{type(exc).__name__}: {exc}"
        if name in self._failing:
            log.debug("collector %s still failing: %s", name, problem)
            return
        self._failing.add(name)
        if isinstance(exc, NoDataError):
            log.debug("collector %s has no data on this host: %s", name, exc)
        else:
            log.error("collector %s failed: %s (logged once; success stays 0 until it "
                      "recovers)", name, problem)

    def collect(self, names: Iterable[str] | None = None) -> list[MetricFamily]:
        """Every family of one scrape: the collectors', their timing, build info, then the
        exporter's own process_* families."""
        selected = self.collectors if names is None else \
            {n: self.collectors[n] for n in names}
        out: list[MetricFamily] = []
        duration, success = Family(DURATION), Family(SUCCESS)
        for name, collector in selected.items():
            seconds, ok = self.run(name, collector, out)
            key = (name,)
            duration.samples.append((key, seconds))
            success.samples.append((key, ok))
        out.append(duration)
        out.append(success)
        out.append(self.build_info)
        if self.process is not None:
            out.extend(self.process.collect())
        return out

    def render(self, names: Iterable[str] | None = None, openmetrics: bool = False) -> str:
        return render(self.collect(names), openmetrics)

    def close(self) -> None:
        for collector in self.collectors.values():
            collector.close()
