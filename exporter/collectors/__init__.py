"""Every collector, by the name node_exporter gives it (`--collector.NAME`, `collect[]=NAME`).

Each module of this package that defines a `Collector` subclass with a `name` is one: there is
no central list to edit. A new collector is its module (and its test); see base.py.
"""

from __future__ import annotations

import importlib
import pkgutil

from exporter.collectors.base import Collector, NoDataError, supported


def _discover() -> dict[str, type[Collector]]:
    found: dict[str, type[Collector]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Collector) \
                    and value.__module__ == module.__name__ and "name" in vars(value):
                if value.name in found:
                    raise RuntimeError(f"collector {value.name} is defined twice: "
                                       f"{found[value.name].__module__}, {module.__name__}")
                found[value.name] = value
    return dict(sorted(found.items()))


COLLECTORS: dict[str, type[Collector]] = _discover()


def default_collectors() -> list[str]:
    """Enabled unless turned off: the default-on collectors this platform can have data for."""
    return sorted(name for name, cls in COLLECTORS.items()
                  if cls.default_enabled and supported(cls))


__all__ = ["COLLECTORS", "Collector", "NoDataError", "default_collectors"]
