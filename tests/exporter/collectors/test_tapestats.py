"""tapestats: /sys/class/scsi_tape statistics, as node_exporter 1.5."""

from __future__ import annotations

import dataclasses

from exporter.collectors.tapestats import TapestatsCollector, TapestatsConfig
from tests.exporter.helpers import collect_text, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(TapestatsCollector(e2e_config()), ("node_tape_",))


def test_ignored_devices():
    config = dataclasses.replace(e2e_config(), tapestats=TapestatsConfig(ignored_devices="^st0$"))
    assert samples(collect_text(TapestatsCollector(config))) == {}


def test_no_scsi_tape_is_no_data(tmp_path):
    assert_absent(tmp_path, "tapestats", 0)


def test_garbled_counter_fails_only_tapestats(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "tapestats",
                       {"sys/class/scsi_tape/st0/stats/read_cnt": "many\n"})
