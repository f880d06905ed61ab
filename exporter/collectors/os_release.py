"""`os`: the distribution from os-release(5), as node_exporter 1.5's `os` collector.

`node_os_info` carries os-release's fields as labels (empty when a field is absent) and
`node_os_version` the major.minor number of VERSION_ID. The file is read under
`--path.rootfs`: /etc/os-release, else /usr/lib/os-release; with neither, the families are
left out (success 0, as 1.5's ErrNoData). The file is small and read on every scrape, so an
upgrade shows at the next one (1.5 re-reads it when its mtime changes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, NoDataError, read_text
from exporter.exposition import Desc, MetricFamily, single

FIELDS = (("build_id", "BUILD_ID"), ("id", "ID"), ("id_like", "ID_LIKE"),
          ("image_id", "IMAGE_ID"), ("image_version", "IMAGE_VERSION"), ("name", "NAME"),
          ("pretty_name", "PRETTY_NAME"), ("variant", "VARIANT"), ("variant_id", "VARIANT_ID"),
          ("version", "VERSION"), ("version_codename", "VERSION_CODENAME"),
          ("version_id", "VERSION_ID"))
INFO = Desc("node_os_info", "A metric with a constant '1' value labeled by build_id, id, id_like, "
            "image_id, image_version, name, pretty_name, variant, variant_id, version, "
            "version_codename, version_id.", "gauge", tuple(label for label, _ in FIELDS))
VERSION = Desc("node_os_version", "Metric containing the major.minor part of the OS version.",
               "gauge", ("id", "id_like", "name"))
FILES = ("etc/os-release", "usr/lib/os-release")
MAJOR_MINOR = re.compile(r"^[0-9]+\.?[0-9]*")
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ESCAPED = re.compile(r"\\(.)")


def unquote(value: str, where: str) -> str:
    """A shell-style value as go-envparse reads it: "double" (backslash escapes), 'single'
    (literal) or bare; an unterminated quote is an error."""
    if value[:1] in ('"', "'"):
        quote = value[0]
        if len(value) < 2 or not value.endswith(quote):
            raise ValueError(f"{where}: unterminated quoted value {value[:40]!r}")
        inner = value[1:-1]
        return ESCAPED.sub(r"\1", inner) if quote == '"' else inner
    return ESCAPED.sub(r"\1", value)


def parse_os_release(text: str, path: str) -> dict[str, str]:
    """KEY=value lines; blank lines and # comments skipped; anything else is malformed."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if line.startswith("export "):
            key = key[len("export "):].strip()
        if not sep or KEY.fullmatch(key) is None:
            raise ValueError(f"{path}: line {number}: expected KEY=value, got {raw[:40]!r}")
        env[key] = unquote(value, f"{path}: line {number}")
    return env


class OsCollector(Collector):
    name = "os"

    def read(self) -> tuple[str, str]:
        for rel in FILES:
            path = os.path.join(self.rootfs, rel)
            try:
                return path, read_text(path)
            except FileNotFoundError:
                continue
        raise NoDataError(f"no os-release file under {self.rootfs}")

    def collect(self) -> Iterator[MetricFamily]:
        path, text = self.read()
        env = parse_os_release(text, path)
        yield single(INFO, 1, tuple(env.get(key, "") for _, key in FIELDS))
        m = MAJOR_MINOR.match(env.get("VERSION_ID", ""))
        version = float(m.group(0)) if m else 0.0
        if version > 0:
            yield single(VERSION, version, (env.get("ID", ""), env.get("ID_LIKE", ""),
                                            env.get("NAME", "")))
