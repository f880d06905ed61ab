"""`processes` (off by default): process and thread counts from /proc/<pid>/stat, as 1.5.

`node_processes_pids` (processes whose stat could be read), `node_processes_threads` (the sum
of their `num_threads`), `node_processes_state{state}` and, from each `/proc/<pid>/task/<tid>/
stat`, `node_processes_threads_state{thread_state}` (a process' own thread counts with the
process' state, as 1.5), with the limits `node_processes_max_threads`
(/proc/sys/kernel/threads-max) and `node_processes_max_processes` (/proc/sys/kernel/pid_max).

A process or thread that exits between the listing and the read (ENOENT, ESRCH) is skipped;
a stat file procfs would reject (no "(comm)", fewer than 40 fields after it, a field that is
no integer) fails the collector, as does a missing limit file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from exporter.collectors.base import Collector, read_uint
from exporter.exposition import Desc, Family, MetricFamily, single

THREADS = Desc("node_processes_threads", "Allocated threads in system", "gauge")
MAX_THREADS = Desc("node_processes_max_threads", "Limit of threads in the system", "gauge")
STATE = Desc("node_processes_state", "Number of processes in each state.", "gauge", ("state",))
THREADS_STATE = Desc("node_processes_threads_state", "Number of threads in each state.",
                     "gauge", ("thread_state",))
PIDS = Desc("node_processes_pids", "Number of PIDs", "gauge")
MAX_PROCESSES = Desc("node_processes_max_processes", "Number of max PIDs limit", "gauge")
# procfs scans the state and 39 numbers after "(comm) "; num_threads is the 18th of them.
STAT_FIELDS = 40
NUM_THREADS = 17
INTEGER = re.compile(rb"[+-]?[0-9]+")
# Errors procfs' callers treat as "the process is gone".
GONE = (FileNotFoundError, ProcessLookupError)


def pids(path: str) -> list[str]:
    """The numeric entries of a /proc or /proc/<pid>/task directory."""
    return [name for name in os.listdir(path) if name.isascii() and name.isdigit()]


def read_stat(path: str) -> tuple[str, int]:
    """(state, num_threads) of a stat file, with procfs' checks."""
    with open(path, "rb", buffering=0) as f:
        data = f.read()
    left, right = data.find(b"("), data.rfind(b")")
    if left < 0 or right < 0:
        raise ValueError(f"{path}: unexpected format, couldn't extract comm")
    fields = data[right + 2:].split()
    if len(fields) < STAT_FIELDS or not all(INTEGER.fullmatch(f) for f in fields[1:STAT_FIELDS]):
        raise ValueError(f"{path}: expected the state and {STAT_FIELDS - 1} integers after "
                         f"the command name")
    return fields[0].decode("utf-8", "replace"), int(fields[NUM_THREADS])


class ProcessesCollector(Collector):
    name = "processes"
    default_enabled = False

    def collect(self) -> Iterator[MetricFamily]:
        count = threads = 0
        states: dict[str, int] = {}
        thread_states: dict[str, int] = {}
        for pid in pids(self.procfs):
            try:
                state, num_threads = read_stat(self.proc(pid, "stat"))
            except GONE:
                continue
            count += 1
            states[state] = states.get(state, 0) + 1
            threads += num_threads
            self.count_threads(pid, state, thread_states)
        max_threads = read_uint(self.proc("sys", "kernel", "threads-max"))
        max_pids = read_uint(self.proc("sys", "kernel", "pid_max"))
        yield single(THREADS, threads)
        yield single(MAX_THREADS, max_threads)
        if states:
            yield Family(STATE, [((s,), n) for s, n in states.items()])
        if thread_states:
            yield Family(THREADS_STATE, [((s,), n) for s, n in thread_states.items()])
        yield single(PIDS, count)
        yield single(MAX_PROCESSES, max_pids)

    def count_threads(self, pid: str, state: str, thread_states: dict[str, int]) -> None:
        """Add the states of a process' threads; none when it has gone or has no task/."""
        try:
            tids = pids(self.proc(pid, "task"))
        except GONE:
            return
        for tid in tids:
            if tid == pid:
                thread_state = state
            else:
                try:
                    thread_state, _ = read_stat(self.proc(pid, "task", tid, "stat"))
                except GONE:
                    continue
            thread_states[thread_state] = thread_states.get(thread_state, 0) + 1
