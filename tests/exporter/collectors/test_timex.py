"""timex: the live kernel's adjtimex, its unit conversions, and the faults a kernel won't give.

No fixture file can hold adjtimex's answer, so the families are read from this host's kernel
(tests/exporter/test_live.py compares them with node_exporter's on the same host).
"""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from exporter.collectors.base import NoDataError
from exporter.collectors.timex import STA_NANO, Timex, TimexCollector
from tests.exporter.helpers import collect_text, fixture_config, headers, samples

FAMILIES = {
    "node_timex_sync_status": "gauge", "node_timex_offset_seconds": "gauge",
    "node_timex_frequency_adjustment_ratio": "gauge", "node_timex_maxerror_seconds": "gauge",
    "node_timex_estimated_error_seconds": "gauge", "node_timex_status": "gauge",
    "node_timex_loop_time_constant": "gauge", "node_timex_tick_seconds": "gauge",
    "node_timex_pps_frequency_hertz": "gauge", "node_timex_pps_jitter_seconds": "gauge",
    "node_timex_pps_shift_seconds": "gauge", "node_timex_pps_stability_hertz": "gauge",
    "node_timex_pps_jitter_total": "counter", "node_timex_pps_calibration_total": "counter",
    "node_timex_pps_error_total": "counter", "node_timex_pps_stability_exceeded_total": "counter",
    "node_timex_tai_offset_seconds": "gauge",
}


def test_struct_is_glibcs_size():
    # glibc's struct timex: 208 bytes with 8-byte longs, 128 with 4-byte ones.
    assert ctypes.sizeof(Timex) == (208 if ctypes.sizeof(ctypes.c_long) == 8 else 128)


def test_live_kernel():
    text = collect_text(TimexCollector(fixture_config()))
    got = samples(text)
    assert {name: h["TYPE"] for name, h in headers(text).items()} == FAMILIES
    assert set(got) == {(name, ()) for name in FAMILIES}
    # The kernel's tick is USER_HZ's period unless someone set it with ADJ_TICK.
    assert got[("node_timex_tick_seconds", ())] == pytest.approx(1 / os.sysconf("SC_CLK_TCK"))
    assert got[("node_timex_sync_status", ())] in (0, 1)
    # The kernel caps maxerror at NTP_PHASE_LIMIT (16 s) and freq at +-500 ppm.
    assert 0 <= got[("node_timex_maxerror_seconds", ())] <= 16
    assert abs(got[("node_timex_frequency_adjustment_ratio", ())] - 1) <= 500e-6
    assert 0 <= got[("node_timex_status", ())] < 1 << 16


def fake(state: int = 0, **fields: int):
    def adjtimex(timex: Timex) -> int:
        assert timex.modes == 0  # a read: never adjusts the clock
        for key, value in fields.items():
            setattr(timex, key, value)
        return state
    return adjtimex


def values(adjtimex) -> dict[str, float]:
    got = samples(collect_text(TimexCollector(fixture_config(), adjtimex=adjtimex)))
    return {name: value for (name, _), value in got.items()}


def test_conversions_in_microseconds():
    got = values(fake(0, offset=-1500, freq=65536 * 12, maxerror=250_000, esterror=3000,
                      status=1, constant=7, tick=10_000, ppsfreq=65536, jitter=20, shift=4,
                      stabil=65536 * 2, jitcnt=1, calcnt=2, errcnt=3, stbcnt=4, tai=37))
    assert got["node_timex_sync_status"] == 1
    assert got["node_timex_offset_seconds"] == pytest.approx(-0.0015)
    assert got["node_timex_frequency_adjustment_ratio"] == pytest.approx(1.000012)
    assert got["node_timex_maxerror_seconds"] == 0.25
    assert got["node_timex_estimated_error_seconds"] == 0.003
    assert got["node_timex_tick_seconds"] == 0.01
    assert got["node_timex_pps_frequency_hertz"] == pytest.approx(1e-6)
    assert got["node_timex_pps_jitter_seconds"] == pytest.approx(20e-6)
    assert got["node_timex_pps_stability_hertz"] == pytest.approx(2e-6)
    assert (got["node_timex_pps_shift_seconds"], got["node_timex_tai_offset_seconds"]) == (4, 37)
    assert [got[f"node_timex_pps_{n}_total"] for n in
            ("jitter", "calibration", "error", "stability_exceeded")] == [1, 2, 3, 4]


def test_nanosecond_status_and_time_error():
    got = values(fake(5, status=STA_NANO | 0x40, offset=1500, jitter=20, maxerror=16_000_000))
    assert got["node_timex_sync_status"] == 0  # TIME_ERROR: what NodeClockNotSynchronising sees
    assert got["node_timex_offset_seconds"] == pytest.approx(1.5e-6)
    assert got["node_timex_pps_jitter_seconds"] == pytest.approx(20e-9)
    assert got["node_timex_maxerror_seconds"] == 16  # maxerror is microseconds either way
    assert got["node_timex_status"] == STA_NANO | 0x40


def failing(err: int):
    def adjtimex(timex: Timex) -> int:
        raise OSError(err, os.strerror(err))
    return adjtimex


def test_permission_denied_is_no_data():
    with pytest.raises(NoDataError):
        list(TimexCollector(fixture_config(), adjtimex=failing(errno.EPERM)).collect())


def test_other_errors_fail_the_collector():
    with pytest.raises(OSError):
        list(TimexCollector(fixture_config(), adjtimex=failing(errno.EINVAL)).collect())
