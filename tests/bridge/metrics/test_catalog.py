"""The metric catalog: built-in entries, config extension/override, lookups.

That every built-in query evaluates on a real Prometheus scraping the real exporter is checked
in metrics/test_integration.py.
"""

from __future__ import annotations

import re

import pytest

from bridge.app import create_app
from bridge.config import BridgeConfig, CatalogEntry, MetricsConfig
from bridge.errors import NotFound
from bridge.metrics.catalog import BUILTIN, CATALOG_KEY, Catalog

REQUIRED = ("cpu", "memory", "swap", "disk", "disk_io", "network", "load1", "uptime")


def test_builtin_has_the_required_metrics_with_title_and_unit():
    catalog = Catalog()
    assert set(REQUIRED) <= set(catalog.names)
    for entry in catalog:
        assert entry.title and entry.query
    assert catalog.get("cpu").unit == "percent"
    assert catalog.get("network").unit == "bytes/s"
    assert catalog.get("uptime").unit == "seconds"


@pytest.mark.parametrize("entry", BUILTIN, ids=lambda e: e.name)
def test_every_builtin_query_is_per_instance(entry):
    """Each aggregation keeps `instance`, so many hosts give one series each."""
    aggregations = re.findall(r"\b(?:sum|max|min|avg) by \(([^)]*)\)", entry.query)
    assert aggregations, entry.query
    for labels in aggregations:
        assert "instance" in [label.strip() for label in labels.split(",")]


def test_split_metrics_tell_series_apart():
    assert "mountpoint" in Catalog().get("disk").query
    for name, directions in (("disk_io", ("read", "write")),
                             ("network", ("receive", "transmit"))):
        query = Catalog().get(name).query
        assert "device" in query
        for direction in directions:
            assert f'"direction", "{direction}"' in query


def test_config_entries_extend_and_override_in_place():
    extra = (CatalogEntry("temp", "max by (instance) (node_hwmon_temp_celsius)", "Temp", "C"),
             CatalogEntry("cpu", "my_cpu", "My CPU", "ratio"))
    catalog = Catalog.from_config(extra)
    assert catalog.names[0] == "cpu" and catalog.names[-1] == "temp"
    assert catalog.get("cpu").query == "my_cpu" and catalog.get("cpu").unit == "ratio"
    assert len(catalog) == len(BUILTIN) + 1
    assert "temp" in catalog and "nope" not in catalog


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(NotFound) as info:
        Catalog().get("cpuu")
    body = info.value.body()
    assert body["error"] == "not_found" and "cpuu" in body["detail"]
    assert "memory" in body["detail"] and body["valid"] == Catalog().names


def test_describe_is_the_api_listing():
    listing = Catalog().describe()
    assert [m["name"] for m in listing] == Catalog().names
    assert set(listing[0]) == {"name", "title", "unit", "description", "query"}


def test_setup_builds_the_catalog_from_config(tmp_path):
    config = BridgeConfig(data_dir=str(tmp_path),
                          metrics=MetricsConfig(catalog=(CatalogEntry("x", "vector(1)"),)))
    app = create_app(config)
    assert "x" in app[CATALOG_KEY] and "cpu" in app[CATALOG_KEY]
