"""mdadm: /proc/mdstat as node_exporter 1.5's md families."""

from __future__ import annotations

from exporter.collectors.mdadm import MdadmCollector, parse_mdstat
from tests.exporter.helpers import collect_text, fixture_config, samples
from tests.exporter.parity import assert_absent, assert_fails_alone, assert_parity, e2e_config

# Later releases also read /sys/block/md*/md (degraded and raid disks); 1.5 reads mdstat only.
NEWER = ("node_md_degraded", "node_md_raid_disks")


def test_fixture_matches_node_exporter():
    got = assert_parity(MdadmCollector(e2e_config()), ("node_md_",), not_in_1_5=NEWER)
    # md6 is recovering and md8 resyncing: each state is 1 for exactly one label.
    assert got[("node_md_state", (("device", "md6"), ("state", "recovering")))] == 1
    assert got[("node_md_state", (("device", "md8"), ("state", "resync")))] == 1
    assert got[("node_md_state", (("device", "md8"), ("state", "active")))] == 0


MDSTAT = """Personalities : [raid1]
md0 : active raid1 sdb1[1] sda1[0]
      1000 blocks [2/2] [UU]

unused devices: <none>
"""


def test_values_are_read_on_every_scrape_and_vanished_arrays_vanish(tmp_path):
    (tmp_path / "mdstat").write_text(MDSTAT)
    collector = MdadmCollector(fixture_config(tmp_path))
    assert samples(collect_text(collector))[("node_md_blocks", (("device", "md0"),))] == 1000
    (tmp_path / "mdstat").write_text(MDSTAT.replace("md0", "md1").replace("1000", "2000"))
    got = samples(collect_text(collector))
    assert got[("node_md_blocks", (("device", "md1"),))] == 2000
    assert not any(dict(labels).get("device") == "md0" for _, labels in got)


def test_pending_resync_has_no_synced_blocks():
    text = MDSTAT.replace("\n\nunused", "\n      resync=PENDING\n\nunused")
    (md,) = parse_mdstat(text)
    assert (md.state, md.synced, md.blocks) == ("resyncing", 0, 1000)


def test_no_mdstat_is_no_data(tmp_path):
    assert_absent(tmp_path, "mdadm", success=0)


def test_garbled_mdstat_fails_only_mdadm(tmp_path, caplog):
    garbled = MDSTAT.replace("1000 blocks [2/2] [UU]", "lots of blocks [2/2] [UU]")
    assert_fails_alone(tmp_path, caplog, "mdadm", {"proc/mdstat": garbled})


def test_truncated_mdstat_fails_only_mdadm(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "mdadm", {"proc/mdstat": MDSTAT.split("\n")[1]})
