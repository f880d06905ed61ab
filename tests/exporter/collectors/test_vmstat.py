"""vmstat: the default field filter, untyped as node_exporter."""

from __future__ import annotations

import dataclasses

from exporter.collectors.vmstat import VmstatCollector, VmstatConfig
from tests.exporter.helpers import collect_text, fixture_config, headers, samples


def test_default_fields_only():
    text = collect_text(VmstatCollector(fixture_config()))
    assert set(headers(text)) == {f"node_vmstat_{f}" for f in (
        "oom_kill", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")}
    assert headers(text)["node_vmstat_pgfault"]["TYPE"] == "untyped"
    assert samples(text)[("node_vmstat_pswpout", ())] == 35045


def test_field_filter_is_configurable():
    config = dataclasses.replace(fixture_config(), vmstat=VmstatConfig(fields="^nr_free_pages$"))
    got = samples(collect_text(VmstatCollector(config)))
    assert got == {("node_vmstat_nr_free_pages", ()): 977769}
