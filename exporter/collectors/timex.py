"""`timex`: the kernel clock discipline from adjtimex(2), as node_exporter 1.5 reports it.

`node_timex_sync_status` is what the `NodeClockNotSynchronising` alert watches. No file holds
these values, so the collector asks the kernel with a read-only `adjtimex` (modes 0, which
needs no privilege) through ctypes: the call costs microseconds and loads nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from exporter.collectors.base import Collector, NoDataError
from exporter.exposition import Desc, MetricFamily, single

if TYPE_CHECKING:
    from exporter.config import ExporterConfig

TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
STA_NANO = 0x2000  # status bit: offset and jitter are in nanoseconds, else microseconds
PPM16FRAC = 1_000_000.0 * 65536.0  # freq, ppsfreq and stabil: ppm with a 16-bit fraction
MICRO = 1_000_000


class Timex(ctypes.Structure):
    """glibc's `struct timex` (Linux; `long` fields, natural alignment, 44 bytes of spare)."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long), ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int), ("_spare", ctypes.c_int * 11),
    ]


def _desc(name: str, help: str, type: str = "gauge") -> Desc:
    return Desc(f"node_timex_{name}", help, type)


SYNC_STATUS = _desc("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).")
OFFSET = _desc("offset_seconds", "Time offset in between local system and reference clock.")
FREQ = _desc("frequency_adjustment_ratio", "Local clock frequency adjustment.")
MAXERROR = _desc("maxerror_seconds", "Maximum error in seconds.")
ESTERROR = _desc("estimated_error_seconds", "Estimated error in seconds.")
STATUS = _desc("status", "Value of the status array bits.")
CONSTANT = _desc("loop_time_constant", "Phase-locked loop time constant.")
TICK = _desc("tick_seconds", "Seconds between clock ticks.")
PPSFREQ = _desc("pps_frequency_hertz", "Pulse per second frequency.")
JITTER = _desc("pps_jitter_seconds", "Pulse per second jitter.")
SHIFT = _desc("pps_shift_seconds", "Pulse per second interval duration.")
STABIL = _desc("pps_stability_hertz",
               "Pulse per second stability, average of recent frequency changes.")
JITCNT = _desc("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.",
               "counter")
CALCNT = _desc("pps_calibration_total", "Pulse per second count of calibration intervals.",
               "counter")
ERRCNT = _desc("pps_error_total", "Pulse per second count of calibration errors.", "counter")
STBCNT = _desc("pps_stability_exceeded_total",
               "Pulse per second count of stability limit exceeded events.", "counter")
TAI = _desc("tai_offset_seconds", "International Atomic Time (TAI) offset.")

# Fills the Timex it is given and returns the clock state (TIME_OK..TIME_ERROR); OSError on
# failure. The collector takes one so tests can produce the faults a kernel will not.
Adjtimex = Callable[[Timex], int]


def libc_adjtimex() -> Adjtimex:
    """adjtimex(2) from the C library, raising OSError with the call's errno."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    call = libc.adjtimex
    call.argtypes = [ctypes.POINTER(Timex)]
    call.restype = ctypes.c_int

    def adjtimex(timex: Timex) -> int:
        state = call(ctypes.byref(timex))
        if state < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return state

    return adjtimex


class TimexCollector(Collector):
    name = "timex"

    def __init__(self, config: ExporterConfig, backend: str | None = None,
                 adjtimex: Adjtimex | None = None) -> None:
        super().__init__(config, backend)
        self._adjtimex = adjtimex

    def collect(self) -> Iterator[MetricFamily]:
        if self._adjtimex is None:
            self._adjtimex = libc_adjtimex()  # once; the library stays loaded anyway
        timex = Timex()  # modes 0: read only
        try:
            state = self._adjtimex(timex)
        except OSError as exc:
            if exc.errno == errno.EPERM:  # a seccomp profile may forbid it: no data, not 0
                raise NoDataError(f"adjtimex: {exc.strerror}") from None
            raise
        divisor = 1e9 if timex.status & STA_NANO else 1e6
        yield single(SYNC_STATUS, 0 if state == TIME_ERROR else 1)
        yield single(OFFSET, timex.offset / divisor)
        yield single(FREQ, 1 + timex.freq / PPM16FRAC)
        yield single(MAXERROR, timex.maxerror / MICRO)
        yield single(ESTERROR, timex.esterror / MICRO)
        yield single(STATUS, timex.status)
        yield single(CONSTANT, timex.constant)
        yield single(TICK, timex.tick / MICRO)
        yield single(PPSFREQ, timex.ppsfreq / PPM16FRAC)
        yield single(JITTER, timex.jitter / divisor)
        yield single(SHIFT, timex.shift)
        yield single(STABIL, timex.stabil / PPM16FRAC)
        yield single(JITCNT, timex.jitcnt)
        yield single(CALCNT, timex.calcnt)
        yield single(ERRCNT, timex.errcnt)
        yield single(STBCNT, timex.stbcnt)
        yield single(TAI, timex.tai)
