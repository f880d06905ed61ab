"""Alertmanager's matcher syntax (`=`, `!=`, `=~`, `!~`), parsed and applied as Alertmanager does.

`severity="critical"`, `alertname=~"Host.*"`, `{a="1", b!~"x|y"}`: a missing label matches as the
empty string, regexes are anchored (`^(?:RE)$`), values may be quoted with `\\"`, `\\\\`, `\\n`
escapes. Regexes run on RE2, the engine (and syntax) of Alertmanager's Go regexp: its time is
linear in the label value, where Python's backtracking `re` takes exponential time on patterns
like `(a|a)*b` — a filter supplied by any reader must not be able to stall the event loop.
Patterns are bounded in length, and look-around and back-references (which RE2 lacks) are
refused with a message that says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from bridge.errors import BadRequest

_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)
_NOT_RE2 = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]")
MAX_VALUE = 256
_RE2 = re2.Options()
_RE2.log_errors = False  # a bad filter is the reader's 400, not a line in the bridge's log
_RE2.never_capture = True


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: Any = field(default=None, compare=False)  # a compiled RE2 pattern

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.regex is not None:
            return (self.regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """One matcher, e.g. `severity="critical"`; BadRequest saying what is wrong."""
    m = _MATCHER.match(text)
    if not m:
        raise BadRequest(f"bad matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, "
                         "NAME=~REGEX or NAME!~REGEX")
    name, op, raw = m.groups()
    value = _unquote(raw, text)
    if len(value) > MAX_VALUE:
        raise BadRequest(f"bad matcher {text!r}: value longer than {MAX_VALUE} characters")
    regex = None
    if op in ("=~", "!~"):
        if _NOT_RE2.search(value):
            raise BadRequest(f"bad matcher {text!r}: look-around and back-references are not "
                             "supported (Alertmanager uses RE2)")
        try:
            regex = re2.compile(f"(?:{value})", _RE2)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "invalid"
            if isinstance(reason, bytes):
                reason = reason.decode(errors="replace")
            raise BadRequest(f"bad matcher {text!r}: invalid regular expression: {reason}"
                             ) from None
    return Matcher(name, op, value, regex)


def _unquote(raw: str, text: str) -> str:
    """Alertmanager's value rules: optional surrounding quotes, `\\"` `\\\\` `\\n` escapes,
    a lone backslash is literal, an unescaped quote inside is an error."""
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    i, closed = 0, not quoted
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == '"':
            if not quoted or i != len(raw) - 1:
                raise BadRequest(f"bad matcher {text!r}: unescaped double quote in the value")
            closed = True
        else:
            out.append(ch)
        i += 1
    if not closed:
        raise BadRequest(f"bad matcher {text!r}: missing closing double quote")
    return "".join(out)


def split_matchers(text: str) -> list[str]:
    """Split `{a="1", b=~"x,y"}` on commas outside quotes (braces and a trailing comma optional)."""
    text = text.strip()
    text = text.removeprefix("{").removesuffix("}")
    parts, token = [], []
    inside = escaped = False
    for ch in text:
        if ch == "," and not inside:
            parts.append("".join(token))
            token = []
            continue
        if ch == '"' and not escaped:
            inside = not inside
        escaped = ch == "\\" and not escaped
        token.append(ch)
    last = "".join(token).strip()
    if last:
        parts.append(last)
    return parts


def parse_filters(values: Iterable[str], limit: int = 20) -> tuple[Matcher, ...]:
    """Every `filter=` query value (each one matcher or a `{...}` list), ANDed together."""
    matchers: list[Matcher] = []
    for value in values:
        parts = split_matchers(value)
        if not parts:
            raise BadRequest(f"bad matcher {value!r}: empty filter")
        matchers.extend(parse_matcher(part) for part in parts)
    if len(matchers) > limit:
        raise BadRequest(f"too many matchers: {len(matchers)} (limit {limit})")
    return tuple(matchers)


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def filter_key(matchers: tuple[Matcher, ...]) -> str:
    """A canonical text for a filter, so subscribers with the same filter share one evaluation."""
    return ",".join(sorted(str(m) for m in matchers))
