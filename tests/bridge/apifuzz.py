"""Schemathesis over the bridge's own OpenAPI document, against a real stack.

Used twice: by `test_api_fuzz_live.py` (a bounded pass in `make test`) and by `make fuzz`
(`python -m tests.bridge.apifuzz`, the long pass, which prints its counts). Each pass runs with
the token and without it, and checks everything schemathesis knows (no 5xx, answers and
content types matching the document, invalid data refused, ...). Its built-in "valid data is
accepted" check is replaced by `fuzz_hooks.valid_requests_accepted`, which is the same check
narrowed by the cross-field rules the document can only state in prose.

The SSE endpoints are left out: a valid request is an endless stream, which schemathesis can
only time out on. Their refusals are covered by test_hostile_live.py and test_sse.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-token"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
AM_CONFIG = {"route": {"receiver": "blackhole"}, "receivers": [{"name": "blackhole"}]}


@dataclass
class Pass:
    """One schemathesis run: its exit code, its JSON report and its printed output."""

    name: str
    exit_code: int
    report: dict[str, Any]
    output: str

    @property
    def generated(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.report.get("failures", []))

    @property
    def errors(self) -> list[Any]:
        return list(self.report.get("errors", []))

    def summary(self) -> str:
        cases = self.report.get("test_cases", {})
        return (f"{self.name}: {cases.get('generated', 0)} cases generated, "
                f"{cases.get('with_failures', 0)} with failures "
                f"({cases.get('unique_failures', 0)} unique), {len(self.errors)} errors, "
                f"exit {self.exit_code}")


def run(base_url: str, name: str, report: Path, *, token: str | None, seed: int,
        max_examples: int, max_time: float) -> Pass:
    """One pass over every operation but the SSE streams."""
    argv = [str(SCHEMATHESIS), "run", f"{base_url}/api/openapi.json", "--checks", "all",
            "--exclude-checks", "positive_data_acceptance", "--seed", str(seed),
            "-n", str(max_examples), "--max-time", str(int(max_time)), "--no-color",
            "--exclude-path-regex", "^/api/sse/", "--request-timeout", "10",
            "--generation-deterministic", "--report-json-path", str(report)]
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.bridge.fuzz_hooks",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=report.parent, env=env, capture_output=True, text=True,
                          timeout=max_time + 120)
    data = json.loads(report.read_text()) if report.exists() else {}
    return Pass(name, done.returncode, data, done.stdout + done.stderr)


@contextmanager
def stack(workdir: Path, prometheus_url: str | None = None) -> Iterator[servers.Process]:
    """A real bridge (raw queries on, a token) on a real Prometheus and Alertmanager."""
    procs: list[servers.Process] = []
    try:
        if prometheus_url is None:
            exp = servers.exporter(workdir / "exporter").start()
            procs.append(exp)
            prom = servers.prometheus(workdir / "prometheus", [exp.address])
            procs.append(prom)
            prom.start()
            prometheus_url = prom.url
        am = servers.alertmanager(workdir / "alertmanager", AM_CONFIG)
        procs.append(am)
        am.start()
        bridge = servers.bridge(workdir / "bridge", prometheus_url, token=TOKEN,
                                alertmanager_url=am.url,
                                config={"metrics": {"raw_queries": True}})
        procs.append(bridge)
        bridge.start()
        yield bridge
    finally:
        for proc in reversed(procs):
            proc.stop()


def both(base_url: str, workdir: Path, *, seed: int, max_examples: int,
         max_time: float) -> list[Pass]:
    """With the token (every operation reachable) and without it (only refusals for writes)."""
    return [run(base_url, name, workdir / f"schemathesis-{name}.json", token=token, seed=seed,
                max_examples=max_examples, max_time=max_time)
            for name, token in (("with token", TOKEN), ("without token", None))]


def main() -> int:
    parser = argparse.ArgumentParser(description="make fuzz: the long schemathesis pass")
    parser.add_argument("--max-examples", type=int, default=2000)
    parser.add_argument("--max-time", type=int, default=600, help="seconds per pass")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promwire-fuzz-") as tmp, stack(Path(tmp)) as bridge:
        passes = both(bridge.url, Path(tmp), seed=args.seed, max_examples=args.max_examples,
                      max_time=args.max_time)
        log = bridge.log_path.read_text(errors="replace")
    bad = False
    for result in passes:
        print(result.summary())
        if result.exit_code != 0:
            bad = True
            print(result.output[-6000:])
    tracebacks = log.count("Traceback")
    print(f"bridge log: {tracebacks} tracebacks")
    return 1 if bad or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
