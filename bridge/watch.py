"""`promwire-watch [URL]`: a live terminal view of a bridge — current values per host and the
firing alerts — that reconnects by itself and shows its connection state.

`--once` prints one snapshot and exits 0, or exits 1 with one line when it cannot get one;
`--json` prints frames as JSON lines for piping. Alerts show their cluster and state (active,
silenced, inhibited, acked by whom). `--ack FINGERPRINT --comment TEXT` acknowledges an alert
instead (POST /api/alerts/{fingerprint}/ack) and prints the ack or the API's error (exit 1).
Several bridges (replicas) may be given, as `URL,URL` or `--bridge URL` repeated: the streams
rotate through them on reconnect, and `--once` (and `--ack`, while none answers) asks each in
turn until one answers. It is a consumer like any other: it uses only
`bridge.client`, never the bridge's server modules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

from bridge import __version__
from bridge.client import (
    ActionError,
    AlertsClient,
    FetchError,
    MetricsFetcher,
    MetricsWebSocketClient,
    ack,
)
from bridge.client.common import DEFAULT_URL, auth_headers, endpoints
from bridge.client.reconnect import MAX_BRIDGES
from bridge.protocol import ALERTS_PATH, DEFAULT_ID, METRICS, METRICS_WS_PATH, SNAPSHOT
from bridge.watchview import fmt_time, render

CLEAR = "\x1b[H\x1b[2J"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promwire-watch",
        description="Live terminal view of a promwire bridge: CPU, memory, disk and network per "
        "host, and the firing alerts. Reconnects by itself.")
    p.add_argument("url", nargs="?", default=None,
                   help=f"the bridge's base URL (default {DEFAULT_URL}); several replicas as "
                   "URL,URL")
    p.add_argument("--bridge", action="append", default=[], metavar="URL",
                   help="another bridge replica to rotate to on reconnect (repeatable, or "
                   "comma-separated)")
    p.add_argument("--once", action="store_true",
                   help="print one snapshot and exit (1 when the bridge cannot be reached)")
    p.add_argument("--json", action="store_true", help="print frames as JSON lines")
    p.add_argument("--token", help="token, when the bridge protects reads")
    p.add_argument("--no-alerts", action="store_true", help="do not follow the alert stream")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per-request timeout for --once and --ack (default 5)")
    acks = p.add_argument_group("acknowledge an alert (instead of watching)")
    acks.add_argument("--ack", metavar="FINGERPRINT",
                      help="acknowledge this alert (as in /api/alerts), then exit")
    acks.add_argument("--comment", metavar="TEXT",
                      help="why, or who is on it (required with --ack)")
    acks.add_argument("--duration", metavar="DURATION",
                      help="how long the ack holds, e.g. 30m or 2h (bridge default 1h, at most "
                      "24h)")
    acks.add_argument("--cluster", metavar="NAME",
                      help="the alert's Alertmanager cluster, when its fingerprint fires in more "
                      "than one")
    p.add_argument("--version", action="version", version=f"promwire-watch {__version__}")
    return p


def check_ack_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--comment, --duration and --cluster belong to --ack, which needs a comment (exit 2)."""
    if args.ack is None:
        extra = [f"--{name}" for name in ("comment", "duration", "cluster")
                 if getattr(args, name) is not None]
        if extra:
            parser.error(f"{', '.join(extra)} only go with --ack")
    elif not (args.comment or "").strip():
        parser.error("--ack needs --comment TEXT")


def bridge_urls(args: argparse.Namespace) -> list[str]:
    """Every bridge given, in rotation order: the positional URL's, then each `--bridge`'s
    (comma-separated lists split, duplicates dropped); DEFAULT_URL when none."""
    found: list[str] = []
    for given in [args.url or "", *args.bridge]:
        for url in given.split(","):
            if url.strip() and url.strip() not in found:
                found.append(url.strip())
    return found or [DEFAULT_URL]


def fetch_alerts(base: str, token: str | None, timeout: float
                 ) -> tuple[dict[str, Any] | None, str]:
    """GET /api/alerts?state=all ({"epoch", "seq", "alerts"}, silenced and inhibited ones
    included): (answer, "") or (None, why not)."""
    request = urllib.request.Request(base + ALERTS_PATH + "?state=all",
                                     headers=auth_headers(token))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return None, f"unavailable ({exc.code})"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"unavailable ({getattr(exc, 'reason', exc)})"
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        return None, "unavailable (unexpected answer)"
    return data, ""


def first_snapshot(urls: list[str], args: argparse.Namespace
                   ) -> tuple[MetricsFetcher, dict[str, Any]]:
    """A snapshot from the first bridge that gives one; FetchError naming every failure."""
    failures: list[str] = []
    for url in urls:
        fetcher = MetricsFetcher(url, min_interval=0.0, timeout=args.timeout, token=args.token)
        try:
            return fetcher, fetcher.fetch_and_cache_metrics()
        except FetchError as exc:
            failures.append(str(exc))
    raise FetchError("; ".join(failures))


def once(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One snapshot over REST; exit 1 with one line when there is none."""
    try:
        fetcher, snapshot = first_snapshot(bridge_urls(args), args)
    except FetchError as exc:
        print(f"promwire-watch: {exc}", file=err)
        return 1
    current, note = (None, "not requested") if args.no_alerts else \
        fetch_alerts(fetcher.base_url, args.token, args.timeout)
    if args.json:
        # The same frames the live streams start with: a metrics frame, an alerts snapshot.
        out.write(json.dumps({"type": METRICS, "id": DEFAULT_ID, **snapshot}) + "\n")
        if current is not None:
            out.write(json.dumps({"type": SNAPSHOT, **current}) + "\n")
    else:
        alerts = current["alerts"] if current is not None else None
        out.write(render(fetcher.base_url, snapshot, alerts, alerts_note=note))
    out.flush()
    return 0


def acknowledge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Post the ack; print it (or, with --json, the silence as JSON) and exit 0, or print the
    API's error (or why no bridge answered) and exit 1."""
    try:
        silence = ack(bridge_urls(args), args.ack, args.comment, duration=args.duration,
                      cluster=args.cluster, token=args.token, timeout=args.timeout)
    except ActionError as exc:
        print(f"promwire-watch: ack failed: {exc}", file=err)
        return 1
    if args.json:
        out.write(json.dumps({"silence": silence}) + "\n")
    else:
        ends = silence.get("endsAt")
        out.write(f"acked {args.ack} in cluster {silence.get('cluster') or 'default'}"
                  + (f" until {fmt_time(ends)}" if ends else "")
                  + f" (silence {silence.get('id', '?')})\n")
    out.flush()
    return 0


class LiveView:
    """Keeps the latest state of both streams and redraws (or prints JSON lines) on change."""

    def __init__(self, url: str | list[str], out: TextIO, *, as_json: bool = False,
                 alerts: bool = True, token: str | None = None) -> None:
        self.out, self.as_json = out, as_json
        self.tty = out.isatty()
        self.metrics = MetricsWebSocketClient(url, token=token, typed=False)
        # state=all: silenced, inhibited and acked alerts too, each shown with its state.
        self.alerts: AlertsClient | None = (AlertsClient(url, token=token, state="all")
                                            if alerts else None)
        self.states = {"metrics": "connecting"}
        if self.alerts is not None:
            self.states["alerts"] = "connecting"
        self._dirty = asyncio.Event()
        self.output_closed = False

    @property
    def url(self) -> str:
        """The bridge the metric stream uses (or tries next), shown in the header."""
        return self.metrics.http_base

    def _write(self, text: str) -> None:
        """Write and flush. When the reader has gone (`--json | head`) the view ends: the
        error must not be raised inside a client callback, which would only log it."""
        if self.output_closed:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.output_closed = True
            self._dirty.set()

    def _emit_json(self, frame: dict[str, Any]) -> None:
        self._write(json.dumps(frame) + "\n")

    def on_metrics(self, frame: dict[str, Any]) -> None:
        if self.as_json:
            self._emit_json(frame)
        elif frame.get("type") in ("metrics", "status"):
            self._dirty.set()

    def on_alert(self, frame: dict[str, Any]) -> None:
        if self.as_json:
            self._emit_json(frame)
        else:
            self._dirty.set()

    def on_state(self, stream: str, state: str, detail: str) -> None:
        transport = self.metrics.transport if stream == "metrics" else None
        label = state + (f" ({transport})" if transport else "")
        if label == self.states.get(stream):
            return  # only the detail changed (another failed attempt): nothing new to show
        self.states[stream] = label
        if self.as_json:
            self._emit_json({"type": "connection", "stream": stream, "state": state,
                             "detail": detail})
        else:
            self._dirty.set()

    def screen(self) -> str:
        alerts, note = None, "not followed"
        if self.alerts is not None:
            connected = self.alerts.state == "connected"
            if self.alerts.epoch is None:  # no snapshot yet
                note = "connecting" if connected else f"not connected: {self.alerts.state_detail}"
            else:
                alerts = self.alerts.firing
                note = "" if connected else f"as of the last connection: {self.alerts.state}"
        states = dict(self.states)
        if self.metrics.prometheus == "down":
            states["prometheus"] = "down"
        text = render(self.url, self.metrics.snapshot(), alerts, states, note)
        return CLEAR + text if self.tty else text + "\n"

    async def run(self) -> None:
        self.metrics.set_callback(self.on_metrics)
        self.metrics.set_state_callback(lambda s, d: self.on_state("metrics", s, d))
        tasks = [self.metrics.start()]
        if self.alerts is not None:
            self.alerts.set_callback(self.on_alert)
            self.alerts.set_state_callback(lambda s, d: self.on_state("alerts", s, d))
            tasks.append(self.alerts.start())
        try:
            while not self.output_closed and not any(t.done() for t in tasks):
                with contextlib.suppress(TimeoutError):
                    # Redraw on change, and every second anyway so ages keep counting.
                    await asyncio.wait_for(self._dirty.wait(), 1.0 if self.tty else 3600)
                self._dirty.clear()
                if not self.as_json:
                    self._write(self.screen())
            if self.output_closed:
                raise BrokenPipeError("the output was closed")
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            await self.metrics.close()
            if self.alerts is not None:
                await self.alerts.close()


async def live(args: argparse.Namespace, out: TextIO) -> int:
    view = LiveView(bridge_urls(args), out, as_json=args.json, alerts=not args.no_alerts,
                    token=args.token)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    try:
        await view.run()
    except asyncio.CancelledError:
        return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_ack_args(parser, args)
    try:
        urls = bridge_urls(args)
        if len(urls) > MAX_BRIDGES:
            raise ValueError(f"at most {MAX_BRIDGES} bridges, got {len(urls)}")
        for url in urls:
            endpoints(url, METRICS_WS_PATH)
    except ValueError as exc:
        print(f"promwire-watch: {exc}", file=sys.stderr)
        return 2
    try:
        if args.ack is not None:
            return acknowledge(args, sys.stdout, sys.stderr)
        if args.once:
            return once(args, sys.stdout, sys.stderr)
        return asyncio.run(live(args, sys.stdout))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `promwire-watch --json | head`: the reader has what it wanted
        _silence_stdout()
        return 0
    except ValueError as exc:  # e.g. a bad alert filter refused by the bridge
        print(f"promwire-watch: {exc}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what could not be
    written does not fail again on the closed pipe (the Python docs' advice for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
