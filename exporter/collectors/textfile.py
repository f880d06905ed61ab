"""`textfile`: metrics from *.prom files in a directory, as node_exporter's textfile collector.

Each file is parsed when it changes (size, mtime or inode), not on every scrape, and the
merged exposition is reused until some file changes. A malformed file, or one with client-side
timestamps, is skipped and sets `node_textfile_scrape_error` to 1; the other files are served.
A family found in several files is merged (missing labels become ""), keeping the first HELP
text; a later file that gives it another HELP or TYPE loses that family and sets the error.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, option, read_text
from exporter.exposition import (
    Desc,
    Family,
    MetricFamily,
    RenderedFamily,
    escape_label_value,
    format_value,
    go_float,
    single,
)
from exporter.textparse import Metric, ParsedFamily, ParseError, parse

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

log = logging.getLogger("exporter.textfile")

MTIME = Desc("node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.",
             "gauge", ("file",))
SCRAPE_ERROR = Desc("node_textfile_scrape_error",
                    "1 if there was an error opening or reading a file, 0 otherwise", "gauge")

FileKey = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


@dataclass
class Merged:
    """A family as merged across files for one scrape."""

    type: str
    help: str | None
    paths: list[str]
    metrics: list[Metric]


def _labels(names: list[str], labels: dict[str, str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label_value(labels.get(n, ""))}"' for n in names]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def render_family(name: str, help: str, kind: str, metrics: list[Metric]) -> RenderedFamily:
    """Both expositions of a merged family: labels filled with "", series sorted as Go does."""
    names = sorted({n for m in metrics for n in m.labels})
    metrics = sorted(metrics, key=lambda m: tuple(m.labels.get(n, "") for n in names))
    desc = Desc(name, help, kind)  # headers and OpenMetrics naming, as for every family
    text, om, om_sample = [desc.text_header], [desc.om_header], desc.om_sample
    for m in metrics:
        if kind in ("summary", "histogram"):
            bound, suffix = ("quantile", "") if kind == "summary" else ("le", "_bucket")
            points = dict(m.points)
            if kind == "histogram" and float("inf") not in points:
                points[float("inf")] = m.count
            for b, v in points.items():
                lab = _labels(names, m.labels, f'{bound}="{go_float(b)}"')
                line = f"{lab} {format_value(v)}\n"
                text.append(f"{name}{suffix}{line}")
                om.append(f"{name}{suffix}{line}")
            lab = _labels(names, m.labels)
            for part, v in (("_sum", m.sum), ("_count", m.count)):
                text.append(f"{name}{part}{lab} {format_value(v)}\n")
                om.append(f"{name}{part}{lab} {format_value(v)}\n")
        else:
            line = f"{_labels(names, m.labels)} {format_value(m.value)}\n"
            text.append(name + line)
            om.append(om_sample + line)
    return RenderedFamily(name, "".join(text), "".join(om))


@dataclass(frozen=True)
class TextfileConfig:
    # Directory (or glob of directories) of *.prom files; empty = none.
    directory: str = option("--collector.textfile.directory", "",
                            "directory (or glob) of *.prom files")


class TextfileCollector(Collector):
    name = "textfile"
    options = TextfileConfig
    platforms = ("any",)

    def __init__(self, config: ExporterConfig) -> None:
        super().__init__(config)
        self.pattern = config.textfile.directory
        # path -> (identity, families, problem): a file is parsed again only when it changes
        self._parsed: dict[str, tuple[FileKey, dict[str, ParsedFamily], str | None]] = {}
        self._rendered: tuple[tuple, list[MetricFamily], bool] | None = None
        self._logged: set[tuple[str, str]] = set()

    def warn_once(self, path: str, problem: str) -> None:
        if (path, problem) not in self._logged:
            self._logged.add((path, problem))
            log.error("textfile %s: %s", path, problem)

    def directories(self) -> list[str]:
        if not self.pattern:
            return []
        found = sorted(glob.glob(self.pattern))
        return found or [self.pattern]

    def parse_file(self, path: str, key: FileKey) -> tuple[dict[str, ParsedFamily],
                                                           str | None]:
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        try:
            result = parse(read_text(path))
            problem = ("contains unsupported client-side timestamps, skipping entire file"
                       if result.has_timestamps else None)
            families = {} if problem else result.families
        except (OSError, ParseError, UnicodeDecodeError) as exc:
            families, problem = {}, f"failed to parse: {exc}"
        self._parsed[path] = (key, families, problem)
        return families, problem

    def scan(self) -> tuple[list[tuple[str, FileKey, float]], bool]:
        """(path, identity, mtime) of every *.prom file, and whether a directory failed."""
        files, errored = [], False
        for directory in self.directories():
            try:
                names = sorted(os.listdir(directory))
            except OSError as exc:
                self.warn_once(directory, f"failed to read directory: {exc.strerror}")
                errored = True
                continue
            for name in names:
                if not name.endswith(".prom"):
                    continue
                path = os.path.join(os.path.normpath(directory), name)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    self.warn_once(path, f"failed to stat: {exc.strerror}")
                    errored = True
                    continue
                files.append((path, (st.st_mtime_ns, st.st_size, st.st_ino),
                              st.st_mtime_ns / 1e9))
        return files, errored

    def collect(self) -> Iterator[MetricFamily]:
        files, errored = self.scan()
        state = (tuple((p, k) for p, k, _ in files), errored)
        if self._rendered is not None and self._rendered[0] == state:
            yield from self._rendered[1]
            yield single(SCRAPE_ERROR, 1 if self._rendered[2] else 0)
            return
        merged: dict[str, Merged] = {}
        mtimes = Family(MTIME)
        for path, key, mtime in files:
            families, problem = self.parse_file(path, key)
            if problem:
                self.warn_once(path, problem)
                errored = True
                continue
            mtimes.add((path,), mtime)
            errored |= self.merge(path, families, merged)
        rendered: list[MetricFamily] = []
        for name, m in sorted(merged.items()):
            help = m.help or f"Metric read from {', '.join(m.paths)}"
            rendered.append(render_family(name, help, m.type, m.metrics))
        if mtimes.samples:
            rendered.append(mtimes)
        self._parsed = {p: v for p, v in self._parsed.items() if any(p == f[0] for f in files)}
        self._rendered = (state, rendered, errored)
        yield from rendered
        yield single(SCRAPE_ERROR, 1 if errored else 0)

    def merge(self, path: str, families: dict[str, ParsedFamily],
              merged: dict[str, Merged]) -> bool:
        """Add one file's families; True when one conflicts with an earlier file's.

        Parsed families are cached across scrapes, so they are read here, never changed.
        """
        errored = False
        for name, fam in families.items():
            got = merged.get(name)
            if got is None:
                merged[name] = Merged(fam.type or "untyped", fam.help or None, [path],
                                      list(fam.metrics))
                continue
            if fam.type != got.type or (fam.help and got.help and fam.help != got.help):
                self.warn_once(path, f"{name}: HELP or TYPE differs from {got.paths[0]}; "
                               f"dropped from this file")
                errored = True
                continue
            got.help = got.help or fam.help or None
            seen = {tuple(sorted(m.labels.items())) for m in got.metrics}
            for m in fam.metrics:
                if tuple(sorted(m.labels.items())) in seen:
                    self.warn_once(path, f"{name}{m.labels}: duplicate series; dropped")
                    errored = True
                    continue
                got.metrics.append(m)
            got.paths.append(path)
        return errored
