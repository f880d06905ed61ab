"""The real exporter as a process: promtool on a live scrape, a real Prometheus scraping it,
and a live side-by-side with Debian's prometheus-node-exporter on the same host."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request

import pytest

from exporter.config import ExporterConfig
from tests import servers
from tests.exporter.helpers import FIXTURES, headers, samples

pytestmark = pytest.mark.integration

PROMTOOL = shutil.which("promtool")
# The collectors both implement; hwmon is compared too (both fail alike on hosts without it).
SHARED = ("arp", "conntrack", "cpu", "diskstats", "filesystem", "hwmon", "loadavg", "meminfo",
          "netdev", "netstat", "pressure", "sockstat", "softnet", "stat", "textfile", "time",
          "timex", "udp_queues", "uname", "vmstat",
          # sysfs and identity collectors; most have no data on a VM, and must agree on that
          # too (node_scrape_collector_success is compared as a series set).
          *(SYSFS := ("bcache", "bonding", "cpufreq", "dmi", "edac", "fibrechannel",
                      "infiniband", "nvme", "os", "powersupplyclass", "rapl", "schedstat",
                      "selinux", "tapestats", "thermal_zone",
                      # procfs/sysfs/D-Bus data most hosts lack: no md, NFS, XFS, ZFS,
                      # btrfs, IPVS or system bus here.
                      "btrfs", "ipvs", "mdadm", "nfs", "nfsd", "xfs", "zfs", "systemd")))
BITS_UNIT = 'use base unit "bytes" instead of "bits"'
CAMEL_CASE = "metric names should be written in 'snake_case' not 'camelCase'"


def scrape(url: str, query: str = "") -> str:
    req = urllib.request.Request(f"{url}/metrics{query}", headers={"Accept": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


@pytest.fixture(scope="module")
def exporter(tmp_path_factory):
    proc = servers.exporter(tmp_path_factory.mktemp("exporter"))
    try:
        yield proc.start()
    finally:
        proc.stop()


def test_promtool_check_metrics_on_a_live_scrape(exporter):
    assert PROMTOOL, "promtool is not installed (make test installs it)"

    def check(text: str) -> subprocess.CompletedProcess:
        return subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=30)

    # Everything but meminfo, netstat and entropy: clean.
    flagged = ("meminfo", "netstat", "entropy")
    others = "&".join(f"collect[]={n}" for n in exporter_names(exporter) if n not in flagged)
    result = check(scrape(exporter.url, "?" + others))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == ""
    # meminfo and netstat keep the kernel's field names (node_memory_MemTotal_bytes,
    # node_netstat_Tcp_InSegs), which promtool's lint flags as camelCase, and entropy
    # counts bits (node_entropy_*_bits), which it flags
    # for not using bytes: exactly as it does on node_exporter; nothing else.
    result = check(scrape(exporter.url))
    findings = (result.stdout + result.stderr).strip().splitlines()
    assert findings
    for line in findings:
        assert (line.startswith(("node_memory_", "node_netstat_"))
                and line.endswith(CAMEL_CASE)) or \
            (line.startswith("node_entropy_") and line.endswith(BITS_UNIT)), line


def test_openmetrics_live_scrape_parses(exporter):
    """Every collector's output on this host, as Prometheus asks for it, is valid OpenMetrics."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

    req = urllib.request.Request(f"{exporter.url}/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        families = {f.name: f for f in parse_om(resp.read().decode())}
    assert families["node_cpu_seconds"].type == "counter"
    assert families["node_memory_MemTotal_bytes"].samples[0].value > 0
    plain = samples(scrape(exporter.url))
    assert len([s for f in families.values() for s in f.samples]) == len(plain)


def exporter_names(exporter) -> list[str]:
    text = scrape(exporter.url)
    return sorted(dict(k[1])["collector"] for k in samples(text)
                  if k[0] == "node_scrape_collector_success")


def test_prometheus_scrapes_the_exporter(node_stack):
    prom = node_stack.prometheus.url
    up = servers.prom_query(prom, 'up{job="node"}')
    assert [float(r["value"][1]) for r in up] == [1.0]
    result = servers.wait_for(lambda: servers.prom_query(prom, "node_memory_MemTotal_bytes"),
                              message="node_memory_MemTotal_bytes in Prometheus")
    assert result[0]["metric"]["instance"] == node_stack.exporter_target
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert float(result[0]["value"][1]) == kib * 1024


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """promwire and node_exporter side by side: same collectors, same textfile directory,
    each with its own default exclusions (mount points, fs types, disks, network devices)."""
    base = tmp_path_factory.mktemp("pair")
    textfiles = base / "textfiles"
    textfiles.mkdir()
    (textfiles / "jobs.prom").write_text(
        "# HELP batch_jobs_total Jobs run.\n# TYPE batch_jobs_total counter\n"
        'batch_jobs_total{kind="nightly"} 3\nbatch_last_success 1.7e9\n')
    udev = base / "udev"
    write_udev_database(udev)
    flags = [f"--collector.{n}" for n in SHARED]
    common = ["--collector.disable-defaults", *flags,
              f"--collector.textfile.directory={textfiles}", f"--path.udev.data={udev}"]
    with servers.exporter_pair(base, *common) as pair:
        yield pair


def write_udev_database(udev) -> None:
    """A made-up udev database for this host's disks (the VM has none): the first disk an
    ATA disk with a filesystem and a device-mapper name, the others with a model only."""
    udev.mkdir()
    with open("/proc/diskstats") as f:
        disks = [line.split()[:3] for line in f if line.split()]
    for i, (major, minor, name) in enumerate(disks):
        props = {"ID_MODEL": f"Model_{name}", "ID_PATH": f"pci-0000:00:0{i % 10}.0"}
        if i == 0:
            props |= {"ID_ATA": "1", "ID_ATA_WRITE_CACHE": "1", "ID_ATA_WRITE_CACHE_ENABLED": "0",
                      "ID_ATA_ROTATION_RATE_RPM": "7200", "ID_SERIAL_SHORT": "S1",
                      "ID_REVISION": "1.0", "ID_WWN": "0x5", "ID_FS_TYPE": "ext4",
                      "ID_FS_USAGE": "filesystem", "ID_FS_UUID": "u-1", "ID_FS_VERSION": "1.0",
                      "DM_NAME": "vg-root", "DM_UUID": "LVM-1", "DM_VG_NAME": "vg",
                      "DM_LV_NAME": "root", "DM_LV_LAYER": ""}
        (udev / f"b{major}:{minor}").write_text(
            "S:disk/by-id/x\n" + "".join(f"E:{k}={v}\n" for k, v in props.items()))


def by_family(text: str) -> dict[str, dict]:
    """{family: {"type", "help", "series": {labels: value}}} for node_* and textfile families."""
    out: dict[str, dict] = {}
    for name, head in headers(text).items():
        if name.startswith(("go_", "process_", "promhttp_", "node_exporter_",
                            "promwire_exporter_")):
            continue
        out[name] = {"type": head.get("TYPE"), "help": head.get("HELP"), "series": {}}
    for (name, labels), value in samples(text).items():
        for fam in (name, name.rsplit("_", 1)[0]):
            if fam in out:
                out[fam]["series"][labels] = value
                break
    return out


def test_same_families_labels_and_types_as_node_exporter(pair):
    ours, theirs = pair
    mine, reference = by_family(scrape(ours.url)), by_family(scrape(theirs.url))
    assert set(mine) == set(reference)
    for name, ref in reference.items():
        got = mine[name]
        assert (got["type"], got["help"]) == (ref["type"], ref["help"]), name
        if name in ("node_scrape_collector_duration_seconds", "node_time_seconds"):
            continue
        assert set(got["series"]) == set(ref["series"]), name


def test_sysfs_collectors_succeed_and_fail_as_node_exporter(pair):
    """Where this host lacks the data (no bcache, no DMI on a VM), both say so alike: the
    same success per collector, and the same values for what both report."""
    ours, theirs = pair
    mine, reference = samples(scrape(ours.url)), samples(scrape(theirs.url))
    for name in SYSFS:
        key = ("node_scrape_collector_success", (("collector", name),))
        assert mine[key] == reference[key], name
    prefixes = ("node_os_", "node_dmi_", "node_selinux_", "node_power_supply_", "node_bonding_",
                "node_nvme_", "node_tape_", "node_infiniband_info", "node_fibrechannel_info")
    same = {k: v for k, v in reference.items() if k[0].startswith(prefixes)}
    assert {k: v for k, v in mine.items() if k[0].startswith(prefixes)} == same


def test_same_filesystem_disk_and_network_series_as_node_exporter_by_default(pair):
    """With neither given an exclude flag, both report exactly the same mounts, disks and
    network devices on this host: our defaults are the Debian binary's, not upstream's."""
    ours, theirs = pair
    mine, reference = by_family(scrape(ours.url)), by_family(scrape(theirs.url))
    for prefix in ("node_filesystem_", "node_disk_", "node_network_"):
        names = {n for n in reference if n.startswith(prefix)}
        assert names == {n for n in mine if n.startswith(prefix)}, prefix
        series = {(n, labels) for n in names for labels in reference[n]["series"]}
        assert {(n, labels) for n in names for labels in mine[n]["series"]} == series, prefix
    assert reference["node_filesystem_size_bytes"]["series"]  # at least / is reported
    assert reference["node_network_receive_bytes_total"]["series"]


# Debian's `--help` prints each default Go-quoted: --collector.X.Y="...".
HELP_DEFAULT = re.compile(r'^\s*(--collector\.[\w.-]+)=("(?:[^"\\]|\\.)*")', re.MULTILINE)


def test_default_exclusions_are_the_debian_binarys():
    """Filesystem, diskstats and netdev exclusions, netstat's fields, systemd's unit regexes
    and ipvs' labels as the installed node_exporter has them."""
    assert servers.NODE_EXPORTER, "prometheus-node-exporter is not installed (make test does)"
    result = subprocess.run([servers.NODE_EXPORTER, "--help"], capture_output=True, text=True,
                            timeout=30)
    defaults = {flag: json.loads(quoted)
                for flag, quoted in HELP_DEFAULT.findall(result.stdout + result.stderr)}
    config = ExporterConfig()
    ours = {
        "--collector.filesystem.mount-points-exclude": config.filesystem.mount_points_exclude,
        "--collector.filesystem.fs-types-exclude": config.filesystem.fs_types_exclude,
        "--collector.diskstats.device-exclude": config.diskstats.device_exclude,
        "--collector.netdev.device-exclude": config.netdev.device_exclude,
        "--collector.netstat.fields": config.netstat.fields,
        "--collector.systemd.unit-include": config.systemd.unit_include,
        "--collector.systemd.unit-exclude": config.systemd.unit_exclude,
        "--collector.ipvs.backend-labels": config.ipvs.backend_labels,
    }
    assert {flag: defaults.get(flag) for flag in ours} == ours


STABLE = ("node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes",
          "node_memory_HugePages_Total", "node_filesystem_size_bytes", "node_filesystem_files",
          "node_filesystem_readonly", "node_filesystem_device_error", "node_boot_time_seconds",
          "node_uname_info", "node_scrape_collector_success", "node_disk_info",
          "node_disk_filesystem_info", "node_disk_device_mapper_info",
          "node_disk_ata_rotation_rate_rpm",
          # adjtimex: the clock state NodeClockNotSynchronising reads, the tick and TAI offset.
          "node_timex_sync_status", "node_timex_status", "node_timex_tick_seconds",
          "node_timex_tai_offset_seconds", "node_nf_conntrack_entries_limit",
          # netclass: what the interfaces are (speed -1 and EINVAL attributes alike).
          "node_network_info", "node_network_up", "node_network_mtu_bytes",
          "node_network_speed_bytes", "node_network_carrier", "node_network_flags",
          "node_network_iface_id", "node_network_protocol_type",
          "node_network_transmit_queue_length", "node_network_name_assign_type",
          "batch_jobs_total", "batch_last_success", "node_textfile_scrape_error")


def test_values_agree_with_node_exporter(pair):
    """Stable values are equal; counters lie between two node_exporter reads around ours."""
    ours, theirs = pair
    before = by_family(scrape(theirs.url))
    mine = by_family(scrape(ours.url))
    after = by_family(scrape(theirs.url))
    compared = 0
    for name in STABLE:
        if name in before:
            assert mine[name]["series"] == before[name]["series"] == after[name]["series"], name
            compared += 1
    assert compared >= 17
    for name, fam in before.items():
        if fam["type"] != "counter":
            continue
        # Linux's per-CPU idle and iowait times may step back a little (NO_HZ accounting).
        slack = 0.5 if name.startswith("node_cpu_") else 0
        for labels, low in fam["series"].items():
            high = after[name]["series"][labels]
            assert low - slack <= mine[name]["series"][labels] <= high + slack, (name, labels)
            compared += 1
    assert compared > 50


def hwmon_trees(tmp_path):
    """node_exporter's fixture sysfs, and a made-up one with a sensor of every type."""
    sysfs = tmp_path / "sys"
    device = sysfs / "devices" / "platform" / "coretemp.0"
    device.mkdir(parents=True)
    chip = sysfs / "class" / "hwmon" / "hwmon0"
    chip.mkdir(parents=True)
    (chip / "device").symlink_to(device)
    bare = sysfs / "class" / "hwmon" / "hwmon1"
    bare.mkdir()
    for path, value in {chip / "name": "coretemp", chip / "temp1_input": "45000",
                        chip / "temp1_label": "Core 0", chip / "temp1_max": "80000",
                        chip / "temp1_crit": "100000", chip / "temp1_crit_alarm": "0",
                        chip / "temp2_input": "47500", chip / "in0_input": "1200",
                        device / "fan1_input": "1200", device / "fan1_min": "300",
                        bare / "temp1_input": "30000", bare / "curr1_input": "1500",
                        bare / "power1_input": "12500000", bare / "power1_accuracy": "50000",
                        bare / "power1_average_interval": "1000",
                        bare / "energy1_input": "2500000", bare / "humidity1_input": "45500",
                        bare / "intrusion0_alarm": "1", bare / "update_interval": "2000",
                        bare / "beep_enable": "1", bare / "vrm": "9.1",
                        bare / "pwm1": "128", bare / "in1_input": "3300"}.items():
        path.write_text(value + "\n")
    return {"synthetic": sysfs, "fixture": FIXTURES / "sys"}


@pytest.mark.parametrize("tree", ["synthetic", "fixture"])
def test_hwmon_matches_node_exporter(tmp_path, tree):
    """Both read the same /sys (this host has no hwmon) and agree on every hwmon family:
    names, HELP, TYPE, chip names, labels and values."""
    sysfs = hwmon_trees(tmp_path)[tree]
    flags = ["--collector.disable-defaults", "--collector.hwmon", f"--path.sysfs={sysfs}"]
    ours = servers.exporter(tmp_path / "ours", *flags)
    theirs = servers.node_exporter(tmp_path / "theirs", *flags)
    try:
        ours.start()
        theirs.start()
        mine, reference = by_family(scrape(ours.url)), by_family(scrape(theirs.url))
    finally:
        ours.stop()
        theirs.stop()
    shared = {n for n in reference if n.startswith("node_hwmon_")}
    assert len(shared) >= 12
    assert {n for n in mine if n.startswith("node_hwmon_")} == shared
    for name in shared:
        assert mine[name] == reference[name], name
    assert mine["node_scrape_collector_success"] == reference["node_scrape_collector_success"]


def test_process_families_as_node_exporters(pair):
    """Both serve their own process_* families, with the same names, HELP and TYPE."""
    ours, theirs = pair
    mine, reference = headers(scrape(ours.url)), headers(scrape(theirs.url))
    want = {n: h for n, h in reference.items() if n.startswith("process_")}
    assert len(want) == 7
    assert {n: h for n, h in mine.items() if n.startswith("process_")} == want


def test_node_clock_not_synchronising_sees_what_node_exporter_sees(node_stack, tmp_path):
    """node_exporter's mixin alert NodeClockNotSynchronising, evaluated by a real Prometheus
    on promwire's series, matches this host's clock state as node_exporter reports it."""
    expr = ('min_over_time(node_timex_sync_status{job="node"}[5m]) == 0 and '
            'node_timex_maxerror_seconds{job="node"} >= 16')
    theirs = servers.node_exporter(tmp_path / "theirs", "--collector.disable-defaults",
                                   "--collector.timex").start()
    try:
        reference = by_family(scrape(theirs.url))
    finally:
        theirs.stop()
    unsynced = reference["node_timex_sync_status"]["series"][()] == 0 and \
        reference["node_timex_maxerror_seconds"]["series"][()] >= 16
    result = servers.wait_for(
        lambda: servers.prom_query(node_stack.prometheus.url,
                                   'node_timex_sync_status{job="node"}'),
        message="node_timex_sync_status in Prometheus")
    assert result
    firing = servers.prom_query(node_stack.prometheus.url, expr)
    assert bool(firing) == unsynced


# node_exporter's off-by-default collectors promwire has; on this host mountstats finds no
# NFS mount (no family from either) and the rest have data.
OFF_BY_DEFAULT = ("buddyinfo", "interrupts", "ksmd", "meminfo_numa", "mountstats", "processes",
                  "tcpstat", "zoneinfo")
OFF_PREFIXES = ("node_buddyinfo_", "node_interrupts_", "node_ksmd_", "node_memory_numa_",
                "node_mountstats_", "node_processes_", "node_tcp_", "node_zoneinfo_")
# Values that do not move between scrapes on an idle host: limits, KSM's settings, zone sizes.
OFF_STABLE = ("node_processes_max_threads", "node_processes_max_processes", "node_ksmd_run",
              "node_ksmd_pages_to_scan", "node_ksmd_sleep_seconds",
              "node_ksmd_merge_across_nodes", "node_zoneinfo_spanned_pages",
              "node_zoneinfo_present_pages", "node_memory_numa_MemTotal",
              "node_scrape_collector_success")
# Families whose label values are what happens to be running (states, sockets).
OFF_CHANGING = ("node_processes_state", "node_processes_threads_state",
                "node_tcp_connection_states", "node_scrape_collector_duration_seconds")


@pytest.fixture(scope="module")
def off_pair(tmp_path_factory):
    """promwire and node_exporter with only the off-by-default collectors turned on."""
    base = tmp_path_factory.mktemp("off_pair")
    flags = ["--collector.disable-defaults", *(f"--collector.{n}" for n in OFF_BY_DEFAULT)]
    with servers.exporter_pair(base, *flags) as pair:
        yield pair


def label_names(family: dict) -> set[tuple[str, ...]]:
    return {tuple(k for k, _ in labels) for labels in family["series"]}


def test_off_by_default_collectors_as_node_exporters(off_pair):
    """Same families, HELP, TYPE, label names and series; stable values equal; counters
    (interrupts, NUMA and zone events) between two node_exporter reads around ours."""
    ours, theirs = off_pair
    before = by_family(scrape(theirs.url))
    mine = by_family(scrape(ours.url))
    after = by_family(scrape(theirs.url))
    assert set(mine) == set(before)
    assert {n for n in before if n.startswith(OFF_PREFIXES)} >= {
        "node_buddyinfo_blocks", "node_interrupts_total", "node_ksmd_run",
        "node_processes_pids", "node_tcp_connection_states", "node_zoneinfo_managed_pages"}
    for name, ref in before.items():
        got = mine[name]
        assert (got["type"], got["help"]) == (ref["type"], ref["help"]), name
        assert label_names(got) == label_names(ref), name
        if name not in OFF_CHANGING:
            assert set(got["series"]) == set(ref["series"]), name
    for name in OFF_STABLE:
        assert mine[name]["series"] == before[name]["series"] == after[name]["series"], name
    compared = 0
    for name, fam in before.items():
        if fam["type"] == "counter":
            for labels, low in fam["series"].items():
                assert low <= mine[name]["series"][labels] <= after[name]["series"][labels], \
                    (name, labels)
                compared += 1
    assert compared > 50
    listen = (("state", "listen"),)
    assert mine["node_tcp_connection_states"]["series"][listen] >= 1  # our own port
