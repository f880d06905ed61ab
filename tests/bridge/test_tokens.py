"""bridge/tokens.py: the token table, its constant-time lookup and the scope check."""

from __future__ import annotations

import hmac

import pytest

from bridge import tokens as tokens_module
from bridge.config import AuthConfig, TokenConfig
from bridge.errors import Forbidden, Unauthorized
from bridge.tokens import SCOPES, Principal, TokenTable, check_scope

TABLE = TokenTable([("hook", "h00k-secret", ["webhook"]),
                    ("ops", "0ps-secret", ["admin", "read"]),
                    ("viewer", "v1ew-secret", ["read"])])


def test_lookup_finds_the_principal_of_each_token():
    assert TABLE.lookup("h00k-secret") == Principal("hook", frozenset({"webhook"}))
    assert TABLE.lookup("0ps-secret") == Principal("ops", frozenset({"admin", "read"}))
    assert TABLE.lookup("v1ew-secret").name == "viewer"


@pytest.mark.parametrize("given", [None, "", "nope", "h00k-secre", "h00k-secret ", "0PS-SECRET"])
def test_lookup_of_anything_else_is_none(given):
    assert TABLE.lookup(given) is None


def test_lookup_compares_every_token_even_after_a_match(monkeypatch):
    """No early exit: the first token matching takes as many comparisons as none matching."""
    calls: list[bytes] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return compare(a, b)
    monkeypatch.setattr(tokens_module.hmac, "compare_digest", counting)
    assert TABLE.lookup("h00k-secret").name == "hook"
    assert len(calls) == 3
    calls.clear()
    assert TABLE.lookup("unknown") is None
    assert len(calls) == 3


def test_from_config_makes_auth_token_the_default_with_every_scope():
    auth = AuthConfig(token="old-style", tokens=(
        TokenConfig(name="hook", token="h00k-secret", scopes=("webhook",)),))
    table = TokenTable.from_config(auth)
    default = table.lookup("old-style")
    assert default == Principal("default", frozenset(SCOPES))
    assert table.lookup("h00k-secret") == Principal("hook", frozenset({"webhook"}))
    assert len(table) == 2


def test_from_config_without_any_token_matches_nothing():
    table = TokenTable.from_config(AuthConfig())
    assert len(table) == 0 and table.lookup("") is None and table.lookup("x") is None


def test_from_config_refuses_an_unread_token_file():
    auth = AuthConfig(tokens=(TokenConfig(name="f", token_file="/x", scopes=("read",)),))
    with pytest.raises(ValueError, match="token_file"):
        TokenTable.from_config(auth)


def test_describe_and_repr_name_tokens_never_their_values():
    assert TABLE.describe() == [("hook", ["webhook"]), ("ops", ["admin", "read"]),
                                ("viewer", ["read"])]
    shown = f"{TABLE!r} {TABLE.describe()} {TABLE.lookup('0ps-secret')!r}"
    assert "secret" not in shown and "ops" in shown
    config_shown = repr(AuthConfig(token="s3cret-a", tokens=(
        TokenConfig(name="n", token="s3cret-b", scopes=("read",)),)))
    assert "s3cret" not in config_shown and "'n'" in config_shown


def test_check_scope_is_401_without_a_principal_and_403_naming_the_scope():
    with pytest.raises(Unauthorized) as none:
        check_scope(None, "read")
    assert none.value.body()["error"] == "unauthorized"
    hook = Principal("hook", frozenset({"webhook"}))
    with pytest.raises(Forbidden) as lacking:
        check_scope(hook, "admin")
    assert lacking.value.body() == {"error": "forbidden",
                                    "detail": "token 'hook' lacks the 'admin' scope"}
    assert check_scope(hook, "webhook") is hook
