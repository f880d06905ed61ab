"""Who is acting: the configured tokens, each a name with scopes, and the lookup of one.

A token grants scopes, never an identity check beyond "it is one of ours": `read` (reads with
`auth.protect_reads`), `silence` (silences and acks), `admin` (manual alerts, raw PromQL) and
`webhook` (Alertmanager's deliveries). `--auth-token` is the token named `default` with every
scope, so a bridge configured the old way works as before.

The lookup compares the given token with every configured one, with `hmac.compare_digest` and
without stopping at a match, so neither the answer time nor an early exit tells a guesser how
close it came. Token values never leave this module: `Principal`, `describe()` and every repr
carry names and scopes only (they end up in logs and silences' createdBy).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from bridge.errors import Forbidden, Unauthorized

READ, SILENCE, ADMIN, WEBHOOK = "read", "silence", "admin", "webhook"
SCOPES = (READ, SILENCE, ADMIN, WEBHOOK)
# The name `--auth-token` (auth.token) goes by.
DEFAULT_NAME = "default"
UNAUTHORIZED = "a valid token is required (Authorization: Bearer <token>)"


class TokenSpec(Protocol):
    """What `from_config` reads of a `bridge.config.TokenConfig` (config imports this module,
    so this one names only the fields)."""

    @property
    def name(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...


class AuthSpec(Protocol):
    """What `from_config` reads of `bridge.config.AuthConfig`."""

    @property
    def token(self) -> str | None: ...
    @property
    def tokens(self) -> tuple[TokenSpec, ...]: ...


@dataclass(frozen=True)
class Principal:
    """The one acting on a request: a token's name and the scopes it holds."""

    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def check_scope(principal: Principal | None, scope: str) -> Principal:
    """`principal` if it holds `scope`; 401 without one, 403 naming the scope it lacks."""
    if principal is None:
        raise Unauthorized(UNAUTHORIZED)
    if not principal.can(scope):
        raise Forbidden(f"token '{principal.name}' lacks the '{scope}' scope")
    return principal


class TokenTable:
    """The configured tokens: value -> Principal, looked up in constant time."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[tuple[str, str, Iterable[str]]] = ()) -> None:
        """`entries`: (name, token, scopes). Empty tokens are left out: they match nothing."""
        self._entries = tuple((token.encode(), Principal(name, frozenset(scopes)))
                              for name, token, scopes in entries if token)

    @classmethod
    def from_config(cls, auth: AuthSpec) -> TokenTable:
        """`auth.token` as `default` with every scope, then `auth.tokens` (their files were
        read by `load_config`; a token without a value is a programming error)."""
        entries: list[tuple[str, str, Iterable[str]]] = []
        if auth.token:
            entries.append((DEFAULT_NAME, auth.token, SCOPES))
        for spec in auth.tokens:
            if spec.token is None:
                raise ValueError(f"auth.tokens: {spec.name!r} has no token value (its "
                                 "token_file is read by load_config)")
            entries.append((spec.name, spec.token, spec.scopes))
        return cls(entries)

    def lookup(self, given: str | None) -> Principal | None:
        """The Principal whose token is `given`, or None. Every entry is compared."""
        if given is None:
            return None
        raw = given.encode()
        found = None
        for token, principal in self._entries:
            if hmac.compare_digest(raw, token) and found is None:
                found = principal
        return found

    def describe(self) -> list[tuple[str, list[str]]]:
        """(name, sorted scopes) of each token, for the start-up log: never the values."""
        return [(p.name, sorted(p.scopes)) for _, p in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenTable({[p.name for _, p in self._entries]})"


TOKENS_KEY = web.AppKey("tokens", TokenTable)
