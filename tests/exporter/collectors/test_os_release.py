"""os: os-release fields as node_os_info labels and node_os_version, as node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.os_release import OsCollector
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config


def test_fixture_matches_node_exporter():
    assert_parity(OsCollector(e2e_config()), ("node_os_",))


def test_etc_wins_over_usr_lib_and_quotes_are_read(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "os-release").write_text("ID=other\n")
    (tmp_path / "etc" / "os-release").write_text(
        '# comment\n\nNAME="Debian \\"GNU\\"/Linux"\nID=debian\nVERSION_ID=\'12\'\n')
    got = samples(collect_text(OsCollector(fixture_config(rootfs=str(tmp_path)))))
    info = [k for k in got if k[0] == "node_os_info"]
    labels = dict(info[0][1])
    assert labels["name"] == 'Debian "GNU"/Linux' and labels["id"] == "debian"
    assert labels["version_id"] == "12" and labels["build_id"] == ""
    assert got[("node_os_version", (("id", "debian"), ("id_like", ""),
                                    ("name", 'Debian "GNU"/Linux')))] == 12


def test_no_version_id_no_version_family(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("ID=arch\nVERSION_ID=rolling\n")
    got = samples(collect_text(OsCollector(fixture_config(rootfs=str(tmp_path)))))
    assert {k[0] for k in got} == {"node_os_info"}


def test_no_file_is_no_data(tmp_path):
    assert_absent(tmp_path, "os", 0)


def test_malformed_file_fails_only_os(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "os", {"etc/os-release": 'ID=x\nNAME="open\n'})
    assert_fails_alone(tmp_path / "b", caplog, "os", {"etc/os-release": "just words\n"})
