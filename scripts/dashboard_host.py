"""The per-host dashboard: node_exporter-compatible metrics as the exporter serves them."""

from __future__ import annotations

from grafana import BUSY, RATE, Dashboard, Panel, negative_y, ok_mapping, query_variable, stat, ts
from grafana import Target as T

UP_MAPPING = ok_mapping("down", "up")


def host() -> Dashboard:
    """One host as the exporter (or node_exporter) describes it."""
    h = 'job="$job", instance="$instance"'
    cores = f'count(node_cpu_seconds_total{{{h}, mode="idle"}})'
    d = Dashboard(
        "promwire-host", "promwire / Host", "One host's CPU, memory, disks, network, pressure "
        "and the exporter's own collectors, from node_exporter-compatible metrics.",
        ["promwire", "node_exporter"],
        [query_variable("job", "Job", "label_values(node_uname_info, job)"),
         query_variable("instance", "Instance",
                        'label_values(node_uname_info{job="$job"}, instance)')])
    d.row("Overview").add(
        stat("Uptime", T(f"node_time_seconds{{{h}}} - node_boot_time_seconds{{{h}}}"),
             unit="dtdurations", decimals=0),
        stat("CPUs", T(cores)),
        stat("Memory", T(f"node_memory_MemTotal_bytes{{{h}}}"), unit="bytes"),
        stat("CPU busy", T(f'100 * (1 - avg(rate(node_cpu_seconds_total{{{h}, mode="idle"}}'
                           f"[{RATE}])))"), unit="percent", steps=BUSY, max=100),
        stat("Memory used", T(f"100 * (1 - node_memory_MemAvailable_bytes{{{h}}} / "
                              f"node_memory_MemTotal_bytes{{{h}}})"),
             unit="percent", steps=BUSY, max=100),
        stat("Swap used", T(f"node_memory_SwapTotal_bytes{{{h}}} - "
                            f"node_memory_SwapFree_bytes{{{h}}}"), unit="bytes"),
        stat("Root file system used", T(
            f'100 * (1 - node_filesystem_avail_bytes{{{h}, mountpoint="/"}} / '
            f'node_filesystem_size_bytes{{{h}, mountpoint="/"}})'),
             unit="percent", steps=BUSY, max=100),
        stat("Load (1m) per CPU", T(
            f"node_load1{{{h}}} / on (job, instance) count by (job, instance) "
            f'(node_cpu_seconds_total{{{h}, mode="idle"}})'),
             decimals=2, steps=((None, "green"), (1, "orange"), (2, "red"))),
    )
    d.row("CPU").add(
        ts("CPU busy by mode", T(f'100 * avg by (mode) (rate(node_cpu_seconds_total{{{h}, '
                                 f'mode!="idle"}}[{RATE}]))', "{{mode}}"),
           unit="percent", stack=True, min=0, max=100,
           description="Share of all CPUs' time in each mode (idle left out), stacked."),
        ts("CPU busy per CPU", T(f'100 * (1 - avg by (cpu) (rate(node_cpu_seconds_total{{{h}, '
                                 f'mode="idle"}}[{RATE}])))', "cpu {{cpu}}"),
           unit="percent", min=0, max=100),
        ts("Load average", T(f"node_load1{{{h}}}", "1m"), T(f"node_load5{{{h}}}", "5m"),
           T(f"node_load15{{{h}}}", "15m"), T(cores, "CPUs"), w=8, min=0),
        ts("Context switches and interrupts",
           T(f"rate(node_context_switches_total{{{h}}}[{RATE}])", "context switches"),
           T(f"rate(node_intr_total{{{h}}}[{RATE}])", "interrupts"), unit="ops", w=8),
        ts("Processes", T(f"node_procs_running{{{h}}}", "running"),
           T(f"node_procs_blocked{{{h}}}", "blocked"),
           T(f"rate(node_forks_total{{{h}}}[{RATE}])", "forks/s"), w=8),
    )
    d.row("Memory").add(
        ts("Memory", T(f"node_memory_MemTotal_bytes{{{h}}} - "
                       f"node_memory_MemAvailable_bytes{{{h}}}", "used"),
           T(f"node_memory_MemAvailable_bytes{{{h}}}", "available"),
           T(f"node_memory_Cached_bytes{{{h}}}", "cached"),
           T(f"node_memory_Buffers_bytes{{{h}}}", "buffers"),
           T(f"node_memory_MemFree_bytes{{{h}}}", "free"),
           T(f"node_memory_MemTotal_bytes{{{h}}}", "total"), unit="bytes", min=0,
           description="Used = MemTotal - MemAvailable (what the kernel cannot hand out "
                       "without swapping)."),
        ts("Swap", T(f"node_memory_SwapTotal_bytes{{{h}}} - node_memory_SwapFree_bytes{{{h}}}",
                     "used"),
           T(f"node_memory_SwapCached_bytes{{{h}}}", "cached"),
           T(f"node_memory_SwapTotal_bytes{{{h}}}", "total"), unit="bytes", min=0, w=6),
        stat("OOM kills in range", T(f"increase(node_vmstat_oom_kill{{{h}}}[$__range])"),
             w=6, h=8, decimals=0, steps=((None, "green"), (1, "red"))),
        ts("Paging and swapping", T(f"rate(node_vmstat_pgmajfault{{{h}}}[{RATE}])",
                                    "major faults"),
           T(f"rate(node_vmstat_pswpin{{{h}}}[{RATE}])", "swapped in"),
           T(f"rate(node_vmstat_pswpout{{{h}}}[{RATE}])", "swapped out"),
           T(f"rate(node_vmstat_pgpgin{{{h}}}[{RATE}])", "paged in"),
           T(f"rate(node_vmstat_pgpgout{{{h}}}[{RATE}])", "paged out"), unit="ops", w=24,
           description="Pages per second (pgpgin/pgpgout count KiB, as the kernel does)."),
    )
    fs_used = (f"100 * (1 - node_filesystem_avail_bytes{{{h}}} / "
               f"node_filesystem_size_bytes{{{h}}})")
    d.row("Disks and file systems").add(
        Panel("bargauge", "File system used", [T(fs_used, "{{mountpoint}}", instant=True)],
              unit="percent", min=0, max=100, steps=BUSY, w=8,
              description="1 - avail / size: the share a non-root user can no longer use."),
        ts("File system space available", T(f"node_filesystem_avail_bytes{{{h}}}",
                                            "{{mountpoint}}"), unit="bytes", min=0, w=8),
        ts("File system errors and read-only mounts",
           T(f"node_filesystem_device_error{{{h}}}", "{{mountpoint}} device error"),
           T(f"node_filesystem_readonly{{{h}}}", "{{mountpoint}} read-only"), w=8, min=0),
        ts("Disk throughput", T(f"rate(node_disk_read_bytes_total{{{h}}}[{RATE}])",
                                "{{device}} read"),
           T(f"rate(node_disk_written_bytes_total{{{h}}}[{RATE}])", "{{device}} write"),
           unit="Bps", overrides=[negative_y(".* write")], description="Writes below the axis."),
        ts("Disk IOPS", T(f"rate(node_disk_reads_completed_total{{{h}}}[{RATE}])",
                          "{{device}} read"),
           T(f"rate(node_disk_writes_completed_total{{{h}}}[{RATE}])", "{{device}} write"),
           unit="iops", overrides=[negative_y(".* write")]),
        ts("Disk utilisation (io_time)", T(f"100 * rate(node_disk_io_time_seconds_total{{{h}}}"
                                           f"[{RATE}])", "{{device}}"),
           unit="percent", min=0, max=100,
           description="Share of time the device had I/O in flight (iostat's %util)."),
        ts("Disk time per request", T(
            f"rate(node_disk_read_time_seconds_total{{{h}}}[{RATE}]) / "
            f"rate(node_disk_reads_completed_total{{{h}}}[{RATE}])", "{{device}} read"),
           T(f"rate(node_disk_write_time_seconds_total{{{h}}}[{RATE}]) / "
             f"rate(node_disk_writes_completed_total{{{h}}}[{RATE}])", "{{device}} write"),
           unit="s", min=0, description="Average time per completed request (empty while idle)."),
    )
    d.row("Network").add(
        ts("Network traffic", T(f"rate(node_network_receive_bytes_total{{{h}}}[{RATE}])",
                                "{{device}} receive"),
           T(f"rate(node_network_transmit_bytes_total{{{h}}}[{RATE}])", "{{device}} transmit"),
           unit="Bps", overrides=[negative_y(".* transmit")], w=8),
        ts("Network packets", T(f"rate(node_network_receive_packets_total{{{h}}}[{RATE}])",
                                "{{device}} receive"),
           T(f"rate(node_network_transmit_packets_total{{{h}}}[{RATE}])", "{{device}} transmit"),
           unit="pps", overrides=[negative_y(".* transmit")], w=8),
        ts("Network errors and drops",
           T(f"rate(node_network_receive_errs_total{{{h}}}[{RATE}])", "{{device}} receive errors"),
           T(f"rate(node_network_transmit_errs_total{{{h}}}[{RATE}])",
             "{{device}} transmit errors"),
           T(f"rate(node_network_receive_drop_total{{{h}}}[{RATE}])", "{{device}} receive drops"),
           T(f"rate(node_network_transmit_drop_total{{{h}}}[{RATE}])",
             "{{device}} transmit drops"), unit="pps", w=8, min=0),
    )
    d.row("Pressure and sensors").add(
        ts("Pressure stall information (PSI)",
           T(f"100 * rate(node_pressure_cpu_waiting_seconds_total{{{h}}}[{RATE}])", "cpu some"),
           T(f"100 * rate(node_pressure_memory_waiting_seconds_total{{{h}}}[{RATE}])",
             "memory some"),
           T(f"100 * rate(node_pressure_memory_stalled_seconds_total{{{h}}}[{RATE}])",
             "memory full"),
           T(f"100 * rate(node_pressure_io_waiting_seconds_total{{{h}}}[{RATE}])", "io some"),
           T(f"100 * rate(node_pressure_io_stalled_seconds_total{{{h}}}[{RATE}])", "io full"),
           T(f"100 * rate(node_pressure_irq_stalled_seconds_total{{{h}}}[{RATE}])", "irq full"),
           unit="percent", min=0,
           description="Share of wall time some (or all) tasks waited for the resource. "
                       "Empty on kernels without PSI."),
        ts("Temperatures (hwmon)", T(f"node_hwmon_temp_celsius{{{h}}}", "{{chip}} {{sensor}}"),
           unit="celsius", description="Empty where the host exposes no hwmon sensors "
                                       "(most virtual machines)."),
    )
    d.row("Exporter").add(
        ts("Collector duration", T(f"node_scrape_collector_duration_seconds{{{h}}}",
                                   "{{collector}}"), unit="s", w=8, min=0),
        Panel("state-timeline", "Collector success",
              [T(f"node_scrape_collector_success{{{h}}}", "{{collector}}")], w=8,
              steps=((None, "red"), (1, "green")),
              mappings=ok_mapping("failed", "ok"),
              description="0 when a collector failed, or when the host lacks its data "
                          "(no PSI, no hwmon), as in node_exporter."),
        ts("Scrape duration", T(f"scrape_duration_seconds{{{h}}}", "scrape"), unit="s", w=8,
           min=0),
        ts("Samples per scrape", T(f"scrape_samples_scraped{{{h}}}", "samples"), h=6, min=0),
        Panel("state-timeline", "Target up", [T(f"up{{{h}}}", "{{instance}}")], w=12, h=6,
              steps=((None, "red"), (1, "green")), mappings=UP_MAPPING),
    )
    return d
