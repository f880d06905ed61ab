"""`selinux`: whether SELinux is on and in which mode, as node_exporter 1.5 (go-selinux) says.

Enabled when a selinuxfs is mounted (`<sysfs>/fs/selinux`, else one listed in
/proc/self/mountinfo) and this process runs in a context other than `kernel`. Then
`node_selinux_current_mode` is selinuxfs' `enforce` (1 enforcing, 0 permissive, -1 unreadable)
and `node_selinux_config_mode` the `SELINUX=` of /etc/selinux/config under `--path.rootfs`
(1 enforcing, 0 permissive, -1 disabled or absent). Without SELinux (Debian's default) only
`node_selinux_enabled 0` is reported, as in 1.5. go-selinux never fails, so neither does this.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_optional
from exporter.exposition import Desc, MetricFamily, single

CONFIG_MODE = Desc("node_selinux_config_mode", "Configured SELinux enforcement mode", "gauge")
CURRENT_MODE = Desc("node_selinux_current_mode", "Current SELinux enforcement mode", "gauge")
ENABLED = Desc("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false", "gauge")
MODES = {"enforcing": 1, "permissive": 0}


class SelinuxCollector(Collector):
    name = "selinux"

    def selinuxfs(self) -> str | None:
        default = self.sys("fs", "selinux")
        if os.path.exists(os.path.join(default, "enforce")):
            return default
        text = read_optional(self.proc("self", "mountinfo")) or ""
        for line in text.splitlines():
            left, _, right = line.partition(" - ")
            fields = left.split()
            if right.split()[:1] == ["selinuxfs"] and len(fields) > 4:
                return fields[4]
        return None

    def config_mode(self) -> int:
        text = read_optional(os.path.join(self.rootfs, "etc", "selinux", "config")) or ""
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "SELINUX":
                return MODES.get(value.strip().strip('"'), -1)
        return -1

    def collect(self) -> Iterator[MetricFamily]:
        # The context first: without SELinux it is unreadable (EINVAL), and mountinfo, which
        # selinuxfs may need, is the costly read.
        context = (read_optional(self.proc("self", "attr", "current")) or "").strip("\x00\n")
        fs = None if context in ("", "kernel") else self.selinuxfs()
        if fs is None:
            yield single(ENABLED, 0)
            return
        yield single(ENABLED, 1)
        yield single(CONFIG_MODE, self.config_mode())
        enforce = read_optional(os.path.join(fs, "enforce")) or ""
        yield single(CURRENT_MODE, int(enforce) if enforce in ("0", "1") else -1)
