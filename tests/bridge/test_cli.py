"""`python -m bridge` / `promwire-bridge` as a process: exit codes and their one-line messages,
the environment read by the CLI, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests import servers


def run_bridge(*args: str, env: dict[str, str] | None = None, cwd: Path
               ) -> subprocess.CompletedProcess[str]:
    """The bridge CLI with `args`, expected to exit on its own (a bound limit stops a hang)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")}
    return subprocess.run([sys.executable, "-m", "bridge", *args], env={**clean, **(env or {})},
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_bad_config_file_exits_2_naming_file_key_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yml"
    path.write_text("streams:\n  interval: -1\n")
    done = run_bridge("--config", str(path), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert str(path) in line and "streams.interval" in line and "> 0" in line


def test_bad_environment_exits_2_naming_the_variable(tmp_path: Path) -> None:
    done = run_bridge("--data-dir", str(tmp_path / "data"), env={"PROMWIRE_LISTEN": "nowhere"},
                      cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "PROMWIRE_LISTEN" in line and "HOST:PORT" in line


def test_port_in_use_exits_1_with_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        done = run_bridge("--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                          "--auth-token", "t", cwd=tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("promwire-bridge: cannot serve on") and str(port) in line
    assert not (data / "alerts.db").exists()  # the app never started


def test_environment_configures_and_sigterm_stops_with_0(tmp_path: Path) -> None:
    port = servers.free_port()
    nowhere = f"http://127.0.0.1:{servers.free_port()}"
    proc = servers.Process(
        "bridge", [sys.executable, "-m", "bridge"], tmp_path, f"http://127.0.0.1:{port}",
        "/health", env={**{k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")},
                        "PROMWIRE_LISTEN": f"127.0.0.1:{port}",
                        "PROMWIRE_DATA_DIR": str(tmp_path / "data"),
                        "PROMWIRE_PROMETHEUS_URL": nowhere})
    try:
        proc.start()
        status, body = servers.http_json(proc.url + "/health")
        assert status == 200 and nowhere in body["checks"]["prometheus"]["error"]
        # No token configured: one was created in the data dir, 0600.
        token = tmp_path / "data" / "auth_token"
        assert token.read_text().strip() and token.stat().st_mode & 0o777 == 0o600
    finally:
        proc.stop()
    assert proc.proc is not None and proc.proc.returncode == 0


def test_event_loop_is_uvloop_unless_configured(tmp_path: Path) -> None:
    """`http.event_loop` picks the loop the CLI runs on; a name it does not know exits 2."""
    import asyncio

    import uvloop

    from bridge.cli import loop_factory
    for name, kind in (("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)):
        loop = loop_factory(name)()
        try:
            assert isinstance(loop, kind)
            assert name == "uvloop" or not isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
    path = tmp_path / "bridge.yml"
    path.write_text("http:\n  event_loop: twisted\n")
    done = run_bridge("--config", str(path), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2 and "http.event_loop" in done.stderr
