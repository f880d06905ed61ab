"""bridge/config.py, the `auth` section: named tokens with scopes, token files read at load,
read-only mode from each layer, and errors that never echo a token."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bridge.cli import build_parser, resolve_token
from bridge.config import BridgeConfig, ConfigError, TokenConfig
from bridge.configload import load_config


def write(tmp_path: Path, data) -> str:
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def tokens_file(tmp_path: Path, *tokens: dict) -> str:
    return write(tmp_path, {"auth": {"tokens": list(tokens)}})


def test_tokens_parse_with_inline_values_and_files_read_at_load(tmp_path):
    secret = tmp_path / "hook-token"
    secret.write_text("  h00k-from-file\n")
    path = tokens_file(tmp_path,
                       {"name": "alertmanager", "token_file": str(secret), "scopes": ["webhook"]},
                       {"name": "oncall", "token": "0ncall-inline", "scopes": ["read", "silence"]})
    auth = load_config(path, env={}).auth
    assert auth.tokens == (
        TokenConfig(name="alertmanager", scopes=("webhook",), token="h00k-from-file",
                    token_file=str(secret)),
        TokenConfig(name="oncall", scopes=("read", "silence"), token="0ncall-inline"))
    assert auth.token is None and auth.read_only is False


@pytest.mark.parametrize(("token", "key", "words"), [
    ({"name": "a", "scopes": ["read"]}, "auth.tokens[0]", "exactly one of token and token_file"),
    ({"name": "a", "token": "x", "token_file": "/f", "scopes": ["read"]}, "auth.tokens[0]",
     "exactly one of token and token_file"),
    ({"name": "a", "token": "", "scopes": ["read"]}, "auth.tokens[0].token", "non-empty"),
    ({"name": "a", "token": "has space", "scopes": ["read"]}, "auth.tokens[0].token",
     "without spaces"),
    ({"name": "a", "token": "x", "scopes": []}, "auth.tokens[0].scopes", "at least one scope"),
    ({"name": "a", "token": "x", "scopes": ["write"]}, "auth.tokens[0].scopes",
     "unknown scope 'write' (valid: read, silence, admin, webhook)"),
    ({"name": "a", "token": "x"}, "auth.tokens[0]", "missing required key(s): scopes"),
    ({"name": "", "token": "x", "scopes": ["read"]}, "auth.tokens[0].name", "expected 1-63"),
    ({"name": "a b", "token": "x", "scopes": ["read"]}, "auth.tokens[0].name", "expected 1-63"),
    ({"name": "a", "token": "x", "scopes": "read"}, "auth.tokens[0].scopes", "expected a list"),
    ({"name": "a", "token": "x", "scopes": ["read"], "role": "x"}, "auth.tokens[0].role",
     "unknown key"),
])
def test_a_bad_token_entry_names_its_key(tmp_path, token, key, words):
    with pytest.raises(ConfigError) as info:
        load_config(tokens_file(tmp_path, token), env={})
    assert info.value.key == key and words in info.value.problem


def test_names_are_unique(tmp_path):
    path = tokens_file(tmp_path, {"name": "ops", "token": "t1", "scopes": ["admin"]},
                       {"name": "ops", "token": "t2", "scopes": ["read"]})
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "auth.tokens[1].name" and "'ops' is used twice" in info.value.problem


def test_default_is_the_auth_token_s_name_whatever_layer_sets_it(tmp_path):
    path = tokens_file(tmp_path, {"name": "default", "token": "t1", "scopes": ["read"]})
    assert load_config(path, env={}).auth.tokens[0].name == "default"  # free without auth.token
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"PROMWIRE_AUTH_TOKEN": "t0"})
    assert info.value.key == "auth.tokens[0].name" and "--auth-token" in info.value.problem


def test_two_names_cannot_share_a_token_and_the_error_does_not_show_it(tmp_path):
    path = tokens_file(tmp_path, {"name": "a", "token": "s3cret-same", "scopes": ["read"]},
                       {"name": "b", "token": "s3cret-same", "scopes": ["admin"]})
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "auth.tokens[1]" and "same token as 'a'" in info.value.problem
    assert "s3cret" not in str(info.value)
    with pytest.raises(ConfigError) as info:  # also against auth.token (`default`)
        load_config(path, env={}, overrides={"auth_token": "s3cret-same"})
    assert "same token as 'default'" in info.value.problem


def test_an_unreadable_or_empty_token_file_is_one_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    path = tokens_file(tmp_path, {"name": "a", "token_file": str(missing), "scopes": ["read"]})
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "auth.tokens[0].token_file"
    assert info.value.problem == f"cannot read {missing}: No such file or directory"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    path = tokens_file(tmp_path, {"name": "a", "token_file": str(empty), "scopes": ["read"]})
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.problem == f"the token in {empty} must be non-empty printable ASCII " \
                                 "without spaces"


def test_at_most_64_tokens(tmp_path):
    many = [{"name": f"t{i}", "token": f"v{i}", "scopes": ["read"]} for i in range(65)]
    with pytest.raises(ConfigError) as info:
        load_config(tokens_file(tmp_path, *many), env={})
    assert info.value.key == "auth.tokens" and "at most 64" in info.value.problem
    assert len(load_config(tokens_file(tmp_path, *many[:64]), env={}).auth.tokens) == 64


def test_read_only_from_file_env_and_flag(tmp_path):
    assert load_config(write(tmp_path, {"auth": {"read_only": True}}), env={}).auth.read_only
    assert load_config(None, env={"PROMWIRE_READ_ONLY": "true"}).auth.read_only
    assert not load_config(None, env={"PROMWIRE_READ_ONLY": "false"}).auth.read_only
    args = build_parser().parse_args(["--read-only"])
    assert load_config(None, env={}, overrides={"read_only": args.read_only}).auth.read_only
    # Without the flag it is None: the environment's value stands.
    assert build_parser().parse_args([]).read_only is None
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"PROMWIRE_READ_ONLY": "perhaps"})
    assert info.value.source == "environment PROMWIRE_READ_ONLY"
    assert info.value.key == "auth.read_only"


def test_named_tokens_alone_create_no_default_token(tmp_path):
    """Writes are never open: without any token the bridge makes `default`; with named tokens
    the operator chose who holds which scope, and no all-scope token appears on disk."""
    config = load_config(tokens_file(tmp_path, {"name": "a", "token": "t", "scopes": ["read"]}),
                         env={}, overrides={"data_dir": str(tmp_path / "data")})
    assert resolve_token(config) == config
    assert not (tmp_path / "data" / "auth_token").exists()
    bare = resolve_token(BridgeConfig(data_dir=str(tmp_path / "bare")))
    assert bare.auth.token and (tmp_path / "bare" / "auth_token").exists()
