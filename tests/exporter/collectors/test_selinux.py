"""selinux: enabled and modes as go-selinux reads them for node_exporter 1.5."""

from __future__ import annotations

from exporter.collectors.selinux import SelinuxCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples


def tree(tmp_path, enforce: str | None, context: str = "system_u:system_r:init_t:s0",
         config: str | None = "SELINUX=enforcing\nSELINUXTYPE=targeted\n"):
    proc, sys = tmp_path / "proc", tmp_path / "sys"
    (proc / "self" / "attr").mkdir(parents=True)
    (proc / "self" / "attr" / "current").write_text(context + "\x00")
    (sys / "fs" / "selinux").mkdir(parents=True)
    if enforce is not None:
        (sys / "fs" / "selinux" / "enforce").write_text(enforce)
    if config is not None:
        (tmp_path / "etc" / "selinux").mkdir(parents=True)
        (tmp_path / "etc" / "selinux" / "config").write_text(config)
    return fixture_config(proc, sysfs=sys, rootfs=str(tmp_path))


def test_enforcing_host(tmp_path):
    text = collect_text(SelinuxCollector(tree(tmp_path, "1")))
    assert samples(text) == {("node_selinux_enabled", ()): 1,
                             ("node_selinux_config_mode", ()): 1,
                             ("node_selinux_current_mode", ()): 1}
    assert headers(text)["node_selinux_enabled"] == {
        "HELP": "SELinux is enabled, 1 is true, 0 is false", "TYPE": "gauge"}


def test_permissive_now_disabled_in_config(tmp_path):
    got = samples(collect_text(SelinuxCollector(tree(tmp_path, "0", config="SELINUX=disabled\n"))))
    assert got[("node_selinux_config_mode", ())] == -1
    assert got[("node_selinux_current_mode", ())] == 0


def test_garbled_enforce_is_minus_one_as_go_selinux(tmp_path):
    got = samples(collect_text(SelinuxCollector(tree(tmp_path, "yes", config=None))))
    assert got[("node_selinux_current_mode", ())] == -1
    assert got[("node_selinux_config_mode", ())] == -1


def test_no_selinuxfs_or_kernel_context_is_disabled(tmp_path):
    got = samples(collect_text(SelinuxCollector(tree(tmp_path / "a", None))))
    assert got == {("node_selinux_enabled", ()): 0}
    got = samples(collect_text(SelinuxCollector(tree(tmp_path / "b", "1", context="kernel"))))
    assert got == {("node_selinux_enabled", ()): 0}


def test_this_host():
    """Debian runs without SELinux: only node_selinux_enabled, as node_exporter reports."""
    got = samples(collect_text(SelinuxCollector(fixture_config("/proc", sysfs="/sys"))))
    assert ("node_selinux_enabled", ()) in got


def test_selinuxfs_found_in_mountinfo(tmp_path):
    config = tree(tmp_path, None)
    other = tmp_path / "selinux"
    other.mkdir()
    (other / "enforce").write_text("0")
    (tmp_path / "proc" / "self" / "mountinfo").write_text(
        "22 1 0:20 / /sys rw - sysfs sysfs rw\n"
        f"30 22 0:21 / {other} rw,relatime - selinuxfs selinuxfs rw\n")
    got = samples(collect_text(SelinuxCollector(config)))
    assert got[("node_selinux_enabled", ())] == 1 and got[("node_selinux_current_mode", ())] == 0
