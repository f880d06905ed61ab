"""Every collector, by the name node_exporter gives it (`--collector.NAME`, `collect[]=NAME`)."""

from __future__ import annotations

from exporter.collectors.arp import ArpCollector
from exporter.collectors.base import Collector, NoDataError, supported
from exporter.collectors.conntrack import ConntrackCollector
from exporter.collectors.cpu import CpuCollector
from exporter.collectors.diskstats import DiskstatsCollector
from exporter.collectors.entropy import EntropyCollector
from exporter.collectors.filefd import FilefdCollector
from exporter.collectors.filesystem import FilesystemCollector
from exporter.collectors.hwmon import HwmonCollector
from exporter.collectors.ipvs import IpvsCollector
from exporter.collectors.loadavg import LoadavgCollector
from exporter.collectors.mdadm import MdadmCollector
from exporter.collectors.meminfo import MeminfoCollector
from exporter.collectors.netclass import NetclassCollector
from exporter.collectors.netdev import NetdevCollector
from exporter.collectors.netstat import NetstatCollector
from exporter.collectors.nfs import NfsCollector
from exporter.collectors.nfsd import NfsdCollector
from exporter.collectors.pressure import PressureCollector
from exporter.collectors.sockstat import SockstatCollector
from exporter.collectors.softnet import SoftnetCollector
from exporter.collectors.stat import StatCollector
from exporter.collectors.textfile import TextfileCollector
from exporter.collectors.time import TimeCollector
from exporter.collectors.timex import TimexCollector
from exporter.collectors.udp_queues import UdpQueuesCollector
from exporter.collectors.uname import UnameCollector
from exporter.collectors.vmstat import VmstatCollector
from exporter.collectors.xfs import XfsCollector

COLLECTORS: dict[str, type[Collector]] = {c.name: c for c in (
    ArpCollector,
    ConntrackCollector,
    CpuCollector,
    DiskstatsCollector,
    EntropyCollector,
    FilefdCollector,
    FilesystemCollector,
    HwmonCollector,
    IpvsCollector,
    LoadavgCollector,
    MdadmCollector,
    MeminfoCollector,
    NetclassCollector,
    NetdevCollector,
    NetstatCollector,
    NfsCollector,
    NfsdCollector,
    PressureCollector,
    SockstatCollector,
    SoftnetCollector,
    StatCollector,
    TextfileCollector,
    TimeCollector,
    TimexCollector,
    UdpQueuesCollector,
    UnameCollector,
    VmstatCollector,
    XfsCollector,
)}


def default_collectors() -> list[str]:
    """Enabled unless turned off: every collector this platform can have data for."""
    return sorted(name for name, cls in COLLECTORS.items() if supported(cls))


__all__ = ["COLLECTORS", "Collector", "NoDataError", "default_collectors"]
