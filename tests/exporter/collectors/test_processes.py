"""processes: node_exporter 1.5's families on its fixture, thread states, vanished and
malformed processes, and this host's /proc."""

from __future__ import annotations

import pytest

from exporter.collectors.processes import ProcessesCollector
from tests.exporter.helpers import PROC, collect_text, fixture_config, samples
from tests.exporter.parity import (
    assert_absent,
    assert_fails_alone,
    assert_off_by_default,
    assert_parity,
    e2e_config,
)

TAIL = " 0" * 38  # the 39 numbers after the state, num_threads (the 18th) set apart


def stat(pid: int, comm: str, state: str, threads: int) -> str:
    numbers = ["0"] * 39
    numbers[16] = str(threads)
    return f"{pid} ({comm}) {state} {' '.join(numbers)}\n"


def make(tmp_path, procs: dict[int, tuple[str, int, dict[int, str]]]) -> ProcessesCollector:
    """procs: {pid: (state, num_threads, {tid: state} for task/)}."""
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "threads-max").write_text("1000\n")
    (tmp_path / "sys" / "kernel" / "pid_max").write_text("4194304\n")
    for pid, (state, threads, tasks) in procs.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat(pid, "a (b) c", state, threads))
        for tid, task_state in tasks.items():
            (tmp_path / str(pid) / "task" / str(tid)).mkdir(parents=True)
            (tmp_path / str(pid) / "task" / str(tid) / "stat").write_text(
                stat(tid, "t", task_state, 0))
    (tmp_path / "self").mkdir()  # not a pid: ignored
    return ProcessesCollector(fixture_config(tmp_path))


def test_fixture_matches_node_exporter():
    assert_parity(ProcessesCollector(e2e_config()), ("node_processes_",))


def test_off_by_default():
    assert_off_by_default("processes")


def test_states_threads_and_limits(tmp_path):
    # A process' own task counts with the process' state (1.5 does not read its stat again).
    c = make(tmp_path, {1: ("S", 1, {}), 20: ("R", 3, {20: "X", 21: "D", 22: "S"}),
                        30: ("S", 1, {})})
    assert samples(collect_text(c)) == {
        ("node_processes_pids", ()): 3, ("node_processes_threads", ()): 5,
        ("node_processes_max_threads", ()): 1000,
        ("node_processes_max_processes", ()): 4194304,
        ("node_processes_state", (("state", "S"),)): 2,
        ("node_processes_state", (("state", "R"),)): 1,
        ("node_processes_threads_state", (("thread_state", "R"),)): 1,
        ("node_processes_threads_state", (("thread_state", "D"),)): 1,
        ("node_processes_threads_state", (("thread_state", "S"),)): 1}


def test_a_vanished_process_or_thread_is_skipped(tmp_path):
    c = make(tmp_path, {5: ("S", 2, {5: "S", 6: "R"})})
    (tmp_path / "7").mkdir()  # exited: no stat
    (tmp_path / "5" / "task" / "6" / "stat").unlink()  # thread exited
    got = samples(collect_text(c))
    assert got[("node_processes_pids", ())] == 1
    assert got[("node_processes_threads_state", (("thread_state", "S"),))] == 1


@pytest.mark.parametrize("text", ["9 nocomm S 1 2\n", "9 (x) S 1 2 3\n",
                                  "9 (x) S" + TAIL.replace("0", "z", 1) + " 0\n"])
def test_a_malformed_stat_fails(tmp_path, text):
    c = make(tmp_path, {})
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "stat").write_text(text)
    with pytest.raises(ValueError, match="9/stat"):
        list(c.collect())


def test_garbled_limit_fails_only_processes(tmp_path, caplog):
    assert_fails_alone(tmp_path, caplog, "processes",
                       {"proc/sys/kernel/threads-max": "lots\n", "proc/sys/kernel/pid_max": "9\n",
                        "proc/1/stat": (PROC / "1" / "stat").read_text()})


def test_no_limits_is_a_failure(tmp_path):
    assert_absent(tmp_path, "processes", 0)


def test_this_hosts_proc():
    got = samples(collect_text(ProcessesCollector(fixture_config("/proc"))))
    assert got[("node_processes_pids", ())] >= 1
    assert got[("node_processes_threads", ())] >= got[("node_processes_pids", ())]
    thread_states = sum(v for (n, _), v in got.items() if n == "node_processes_threads_state")
    assert thread_states >= got[("node_processes_pids", ())] - 5  # some may exit meanwhile
    with open("/proc/sys/kernel/pid_max") as f:
        assert got[("node_processes_max_processes", ())] == int(f.read())
    assert ("node_processes_state", (("state", "R"),)) in got  # this process runs
