"""dmi: /sys/class/dmi/id as node_dmi_info, as node_exporter 1.5."""

from __future__ import annotations

import os

import pytest

from exporter.collectors.dmi import DmiCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(DmiCollector(e2e_config()), ("node_dmi_",))


def test_invalid_utf8_is_replaced_and_other_files_ignored(tmp_path):
    ids = tmp_path / "class" / "dmi" / "id"
    ids.mkdir(parents=True)
    (ids / "bios_vendor").write_bytes(b"Acme\xff\xfeCo\n")
    (ids / "sys_vendor").write_text("Acme\n")
    (ids / "modalias").write_text("dmi:x\n")
    (ids / "board_name").mkdir()  # not a regular file: skipped, as procfs does
    got = samples(collect_text(DmiCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_dmi_info", (("bios_vendor", "Acme\ufffdCo"),
                                      ("system_vendor", "Acme"))): 1}


def test_root_only_field_is_left_out(tmp_path):
    ids = tmp_path / "class" / "dmi" / "id"
    ids.mkdir(parents=True)
    (ids / "sys_vendor").write_text("Acme\n")
    secret = ids / "product_uuid"
    secret.write_text("1234\n")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as root: every file is readable")
    got = samples(collect_text(DmiCollector(fixture_config(sysfs=tmp_path))))
    assert got == {("node_dmi_info", (("system_vendor", "Acme"),)): 1}


def test_values_are_read_on_every_scrape(tmp_path):
    ids = tmp_path / "class" / "dmi" / "id"
    ids.mkdir(parents=True)
    (ids / "bios_version").write_text("1\n")
    collector = DmiCollector(fixture_config(sysfs=tmp_path))
    collect_text(collector)
    (ids / "bios_version").write_text("2\n")
    assert samples(collect_text(collector)) == {("node_dmi_info", (("bios_version", "2"),)): 1}


def test_no_dmi_is_no_data(tmp_path):
    assert_absent(tmp_path, "dmi", 0)
