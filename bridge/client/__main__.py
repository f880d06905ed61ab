"""`python -m bridge.client [URL] [--frames N] [--token T]`: the connectivity check.

Connects the way a consumer would (`MetricsWebSocketClient`, typed, with its REST fallback),
prints `✅ Connected`, then CPU %, Memory % and Disk % per host for each of N frames, and exits
0. When the bridge cannot be reached (or refuses the token) it prints one `❌ ...` line and exits
1, instead of retrying forever as a long-running client would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from typing import TextIO

from bridge.client.common import CONNECTED, DEFAULT_URL, DISCONNECTED, POLLING, RECONNECTING
from bridge.client.metrics import MetricsWebSocketClient
from bridge.client.updates import Control, MetricsUpdate

EXIT_OK, EXIT_UNREACHABLE = 0, 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.client",
        description="Check that a promwire bridge answers: print CPU, memory and disk use "
                    "per host for a few frames.")
    parser.add_argument("url", nargs="?", default=DEFAULT_URL,
                        help=f"the bridge's base URL (default {DEFAULT_URL})")
    parser.add_argument("--frames", type=int, default=3, metavar="N",
                        help="metric frames to print before exiting (default 3; 0 = until "
                             "interrupted)")
    parser.add_argument("--token", default=os.environ.get("PROMWIRE_TOKEN"),
                        help="the bridge's token, when reads need it (default: "
                             "$PROMWIRE_TOKEN)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when no metric frame came for this long (default 30)")
    return parser


def percent(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:5.1f} %"


def disk_use(update: MetricsUpdate, host: str) -> tuple[float | None, str]:
    """The root filesystem's use when the host has one, else its fullest mount point."""
    root = update.value("disk", host, {"mountpoint": "/"})
    if root is not None:
        return root, "/"
    mounts = [s for s in update.samples("disk", host) if not math.isnan(s.value)]
    if not mounts:
        return None, ""
    fullest = max(mounts, key=lambda s: s.value)
    return fullest.value, fullest.labels.get("mountpoint", "")


def frame_lines(update: MetricsUpdate, number: int) -> list[str]:
    """One header line per frame, then one line per host."""
    when = time.strftime("%H:%M:%S", time.localtime(update.timestamp)) \
        if not math.isnan(update.timestamp) else "?"
    note = " (stale)" if update.stale else ""
    lines = [f"frame {number} at {when}{note}, over {update.transport or '?'}:"]
    if not update.instances:
        lines.append("  no hosts (Prometheus scrapes no exporter yet?)")
    width = max((len(h) for h in update.instances), default=0)
    for host in update.instances:
        disk, mount = disk_use(update, host)
        lines.append(f"  {host:<{width}}  CPU {percent(update.value('cpu', host))}  "
                     f"Memory {percent(update.value('memory', host))}  "
                     f"Disk {percent(disk)}{f' ({mount})' if mount else ''}")
    return lines


class Check:
    """Follows one client: reports the connection, prints frames, decides the exit code."""

    def __init__(self, client: MetricsWebSocketClient, frames: int, out: TextIO) -> None:
        self.client, self.frames, self.out = client, frames, out
        self.connected = False
        self.printed = 0
        self.failure: str | None = None
        self.output_closed = False
        self.prometheus: str | None = None  # as the last `status` frame said
        self.done = asyncio.Event()
        self.progress = asyncio.Event()

    def say(self, line: str) -> None:
        try:
            print(line, file=self.out, flush=True)
        except (BrokenPipeError, ValueError):  # `| head -3` has read enough: stop quietly
            self.output_closed = True
            self.done.set()
            if self.out is sys.stdout:  # keep the interpreter's final flush from failing loudly
                with contextlib.suppress(OSError, ValueError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def on_state(self, state: str, detail: str) -> None:
        if state in (CONNECTED, POLLING) and not self.connected:
            self.connected = True
            how = "WebSocket" if state == CONNECTED else "REST polling (WebSocket refused)"
            self.say(f"✅ Connected to {self.client.http_base} ({how})")
            self.progress.set()
        elif state in (RECONNECTING, DISCONNECTED) and not self.connected:
            self.fail(f"cannot reach the bridge at {self.client.http_base}: {detail}")

    def on_item(self, item: MetricsUpdate | Control) -> None:
        if isinstance(item, Control):
            if item.type == "status" and item.get("prometheus") != self.prometheus:
                self.prometheus = item.get("prometheus")  # say each change once, not per socket
                if self.prometheus == "down":
                    self.say(f"⚠️  the bridge is up but Prometheus is down: {item.get('detail')}")
            elif item.type == "error":
                self.say(f"⚠️  the bridge said: {item.get('detail')}")
            return
        self.printed += 1
        for line in frame_lines(item, self.printed):
            self.say(line)
        self.progress.set()
        if self.frames and self.printed >= self.frames:
            self.done.set()

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            self.done.set()


async def check(url: str, frames: int, token: str | None, patience: float,
                out: TextIO) -> int:
    """Run the check; `patience` is the longest wait for an answer, then for each frame."""
    client = MetricsWebSocketClient(url, token=token, typed=True, control=True,
                                    fallback_after=1, connect_timeout=min(patience, 10.0),
                                    heartbeat_timeout=max(patience, 1.0))
    watcher = Check(client, frames, out)
    client.set_state_callback(watcher.on_state)
    client.set_callback(watcher.on_item)
    async with client:
        while not watcher.done.is_set():
            watcher.progress.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (watcher.done, watcher.progress)]
            finished, pending = await asyncio.wait(waits, timeout=patience,
                                                   return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if not finished:
                what = "metric frame" if watcher.connected else "answer"
                watcher.fail(f"no {what} from {client.http_base} in {patience:g} s")
    if watcher.failure is not None:
        watcher.say(f"❌ {watcher.failure}")
        return EXIT_UNREACHABLE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 0 or args.timeout <= 0:
        build_parser().error("--frames must be >= 0 and --timeout > 0")
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]  # a C locale
    try:
        return asyncio.run(check(args.url, args.frames, args.token, args.timeout, sys.stdout))
    except ValueError as exc:  # a URL that is not one
        print(f"❌ {exc}", file=sys.stdout, flush=True)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_OK



if __name__ == "__main__":
    sys.exit(main())
