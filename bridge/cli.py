"""`promwire-bridge` / `python -m bridge`: flags, config, logging, and a clean exit.

Exit codes: 0 on a signal-initiated stop, 1 when the service cannot run (port in use, bad
listen address, unwritable data dir), 2 for a bad configuration or bad flags. The listening
socket is bound before the app starts, so "port in use" is one line and nothing else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bridge import __version__
from bridge.app import create_app
from bridge.config import BridgeConfig, ConfigError
from bridge.configload import load_config
from bridge.server import BridgeRunner
from bridge.tokens import TOKENS_KEY, TokenTable

log = logging.getLogger("bridge")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promwire-bridge",
        description="Serve Prometheus and Alertmanager as REST, WebSocket and SSE streams. "
        "Every flag can also be set as PROMWIRE_<NAME> (e.g. PROMWIRE_AUTH_TOKEN); "
        "flags win over the environment, which wins over the file.",
    )
    p.add_argument("--listen", metavar="HOST:PORT", help="address to serve on "
                   "(default 127.0.0.1:8000)")
    p.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL "
                   "(default http://127.0.0.1:9090)")
    p.add_argument("--alertmanager-url", metavar="URL", help="Alertmanager base URL "
                   "(default http://127.0.0.1:9093)")
    p.add_argument("--config", metavar="FILE", help="YAML configuration file")
    p.add_argument("--data-dir", metavar="DIR", help="where alerts and the token live "
                   "(default ./data)")
    p.add_argument("--auth-token", metavar="TOKEN", help="token for write endpoints "
                   "(default: read or create DATA_DIR/auth_token)")
    p.add_argument("--read-only", action="store_const", const=True, default=None,
                   help="refuse every user write with 403 whatever the token; Alertmanager "
                   "webhooks are still accepted (auth.read_only)")
    p.add_argument("--log-level", metavar="LEVEL", help="debug, info, warning, error")
    p.add_argument("--alerts-store", metavar="STORE", help="where the alert log lives: sqlite "
                   "(default, DATA_DIR/alerts.db) or postgres (--database-url)")
    p.add_argument("--database-url", metavar="URL", help="postgresql://USER:PASSWORD@HOST:PORT/DB "
                   "shared by every bridge replica (alerts.store: postgres)")
    p.add_argument("--replica-id", metavar="NAME", help="this replica's name in /health "
                   "(default HOSTNAME:PORT)")
    p.add_argument("--version", action="version", version=f"promwire-bridge {__version__}")
    return p


def resolve_token(config: BridgeConfig) -> BridgeConfig:
    """Give the config a token: the configured one(s), else DATA_DIR/auth_token (created 0600).

    Writes are never open: a bridge started without any token makes one and says where it is.
    With `auth.tokens` and no `auth.token`, none is made: the operator chose who holds what.
    """
    if config.auth.token or config.auth.tokens:
        return config
    path = Path(config.data_dir) / "auth_token"
    if path.exists():
        token = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        log.info("no auth token configured; created %s", path)
    return dataclasses.replace(config, auth=dataclasses.replace(config.auth, token=token))


def describe_auth(tokens: TokenTable, config: BridgeConfig) -> str:
    """One log line: token names and scopes (never their values), read-only and read access."""
    names = ", ".join(f"{name} [{' '.join(scopes)}]"
                      for name, scopes in tokens.describe()) or "none"
    return (f"tokens {names}; read_only {'on' if config.auth.read_only else 'off'}; "
            f"reads {'need the read scope' if config.auth.protect_reads else 'open'}")


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind HOST:PORT before the app starts anything, so a port in use is one clear error
    (OSError) and not a half-started bridge (open stores, background tasks, their logs)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, backlog=4096)


async def serve(config: BridgeConfig, sock: socket.socket) -> None:
    """Serve on the bound `sock` until SIGINT/SIGTERM."""
    app = create_app(config)
    runner = BridgeRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock, backlog=4096)
        await site.start()
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        log.info("promwire-bridge %s listening on http://%s:%d (prometheus %s)",
                 __version__, host, port, config.prometheus.url)
        log.info("auth: %s", describe_auth(app[TOKENS_KEY], config))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop `http.event_loop` names: uvloop does the socket work of every request and
    every frame sent in C, which is most of a webhook's and a fan-out's cost in Python."""
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        "listen": args.listen,
        "prometheus_url": args.prometheus_url,
        "alertmanager_url": args.alertmanager_url,
        "data_dir": args.data_dir,
        "auth_token": args.auth_token,
        "read_only": args.read_only,
        "log_level": args.log_level,
        "alerts_store": args.alerts_store,
        "database_url": args.database_url,
        "replica_id": args.replica_id,
    }
    try:
        config = load_config(args.config, os.environ, overrides)
    except ConfigError as exc:
        print(f"promwire-bridge: config error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = resolve_token(config)
    except OSError as exc:
        print(f"promwire-bridge: cannot use data dir {config.data_dir}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    try:
        sock = listen_socket(config.host, config.port)
    except OSError as exc:
        print(f"promwire-bridge: cannot serve on {config.listen}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.http.event_loop)) as runner:
            runner.run(serve(config, sock))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0
