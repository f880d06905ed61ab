"""The exporter's HTTP messages: the parsed request, the response, and their wire form.

They are apart from the server loop (exporter.http) so that handlers (exporter.server) and tests
build and read messages without the connection machinery. Serialising is done here once per
response; the Date header is formatted at most once a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs

CACHED_TARGET = 512  # longer targets are parsed each time: 256 cached 8 KiB queries took 40 MiB


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    version: str
    headers: dict[str, str]  # lower-case names

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Response]


class BadRequest(Exception):
    """A request the server refuses: answered with `status` and a JSON error, then closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


_targets: dict[bytes, tuple[str, dict[str, list[str]]]] = {}


def split_target(target: bytes) -> tuple[str, dict[str, list[str]]]:
    """Path and query of a request target (origin or absolute form); never raises.

    A scraper sends the same target each time, so results are cached: at most 256, each of
    at most CACHED_TARGET bytes, since the parsed query of a long target is many times its size.
    """
    got = _targets.get(target)
    if got is None:
        text = target.decode("latin-1").partition("#")[0]
        if not text.startswith("/") and "://" in text:  # absolute form: drop scheme://host
            rest = text.partition("://")[2]
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
            text = rest[cut:] if cut >= 0 else "/"
        path, _, query = text.partition("?")
        got = (path or "/", parse_qs(query, keep_blank_values=True))
        if len(_targets) < 256 and len(target) <= CACHED_TARGET:
            _targets[target] = got
    return got


class Date:
    """The Date header, formatted at most once a second."""

    second = -1
    value = ""

    @classmethod
    def now(cls) -> str:
        now = int(time.time())
        if now != cls.second:
            cls.second, cls.value = now, formatdate(now, usegmt=True)
        return cls.value


def serialize(response: Response, head_only: bool, keep_alive: bool, version: str) -> bytes:
    status = response.status
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}\r\nDate: {Date.now()}\r\n"
             f"Content-Length: {len(response.body)}\r\n"]
    for name, value in response.headers:
        lines.append(f"{name}: {value}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    elif version == "HTTP/1.0":
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    head = "".join(lines).encode("latin-1")
    return head if head_only else head + response.body


def error_bytes(status: int, detail: str) -> bytes:
    body = json.dumps({"error": "bad_request", "detail": detail}).encode()
    return serialize(Response(status, body, [("Content-Type", "application/json")]),
                     False, False, "HTTP/1.1")
