"""bridge/config.py: file, environment, flags (in that order of precedence), and clear errors
naming the source, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bridge.config import BridgeConfig, CatalogEntry, ConfigError, parse_listen
from bridge.configload import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "bridge.yml"


def write(tmp_path: Path, data) -> str:
    path = tmp_path / "bridge.yml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def test_defaults_without_file_env_or_flags():
    config = load_config(None, env={}, overrides={})
    assert config == BridgeConfig()
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.metrics.cache_ttl == 1.0 and config.metrics.raw_queries is False
    assert config.prometheus.max_points == 11000


def test_file_values_are_typed(tmp_path):
    path = write(tmp_path, {
        "listen": "0.0.0.0:9000",
        "prometheus": {"url": "http://prom:9090", "timeout": 3},
        "metrics": {"cache_ttl": "2.5", "raw_queries": "yes", "exporter_jobs": ["node"],
                    "catalog": [{"name": "temp", "query": "max by (instance) (t)",
                                 "unit": "C"}]},
        "http": {"allowed_origins": ["https://a.example"]},
    })
    config = load_config(path, env={})
    assert config.port == 9000 and config.prometheus.timeout == 3.0
    assert config.metrics.cache_ttl == 2.5 and config.metrics.raw_queries is True
    assert config.metrics.exporter_jobs == ("node",)
    assert config.metrics.catalog == (CatalogEntry("temp", "max by (instance) (t)", unit="C"),)
    assert config.http.allowed_origins == ("https://a.example",)


def test_precedence_flags_over_env_over_file(tmp_path):
    path = write(tmp_path, {"listen": "127.0.0.1:1000", "log_level": "debug",
                            "prometheus": {"url": "http://file:9090"}})
    env = {"PROMWIRE_LISTEN": "127.0.0.1:2000", "PROMWIRE_PROMETHEUS_URL": "http://env:9090",
           "PROMWIRE_AUTH_TOKEN": "from-env", "UNRELATED": "x"}
    config = load_config(path, env=env, overrides={"listen": "127.0.0.1:3000",
                                                   "log_level": None})
    assert config.listen == "127.0.0.1:3000"          # flag
    assert config.prometheus.url == "http://env:9090"  # environment over file
    assert config.auth.token == "from-env"
    assert config.log_level == "debug"                 # file; a None flag is ignored


def test_empty_env_values_are_ignored():
    assert load_config(None, env={"PROMWIRE_LISTEN": ""}).listen == "127.0.0.1:8000"


def test_empty_file_is_defaults(tmp_path):
    assert load_config(write(tmp_path, ""), env={}) == BridgeConfig()


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"lisen": "x"}, "lisen", "unknown key"),
    ({"prometheus": {"urll": "x"}}, "prometheus.urll", "unknown key"),
    ({"prometheus": "http://x"}, "prometheus", "expected a mapping"),
    ({"prometheus": {"timeout": "soon"}}, "prometheus.timeout", "expected float"),
    ({"prometheus": {"timeout": 0}}, "prometheus.timeout", "> 0"),
    ({"prometheus": {"url": "ftp://x"}}, "prometheus.url", "http(s) URL"),
    ({"prometheus": {"max_points": 1.5}}, "prometheus.max_points", "expected int"),
    ({"listen": "nowhere"}, "listen", "HOST:PORT"),
    ({"listen": "127.0.0.1:99999"}, "listen", "HOST:PORT"),
    ({"log_level": "loud"}, "log_level", "expected one of"),
    ({"metrics": {"raw_queries": "maybe"}}, "metrics.raw_queries", "expected bool"),
    ({"metrics": {"cache_ttl": -1}}, "metrics.cache_ttl", ">= 0"),
    ({"metrics": {"max_stale": 0}}, "metrics.max_stale", "> 0"),
    ({"metrics": {"catalog": {"name": "x"}}}, "metrics.catalog", "expected a list"),
    ({"metrics": {"catalog": [{"name": "x"}]}}, "metrics.catalog[0]",
     "missing required key(s): query"),
    ({"metrics": {"catalog": [{"name": "", "query": "q"}]}}, "metrics.catalog[0]",
     "name and a query"),
    ({"metrics": {"catalog": [{"name": "x", "query": "q", "colour": 1}]}},
     "metrics.catalog[0].colour", "unknown key"),
    ({"metrics": {"catalog": [{"name": "current", "query": "q"}]}},
     "metrics.catalog[0].name", "other than 'current'"),
    ({"metrics": {"catalog": [{"name": "a/b", "query": "q"}]}},
     "metrics.catalog[0].name", "identifier"),
    ({"alerts": {"sync": "sometimes"}}, "alerts.sync", "expected one of"),
    ({"streams": {"interval": 0.5, "min_interval": 1}}, "streams.interval", "min_interval"),
    ({"streams": {"max_message_bytes": 0}}, "streams.max_message_bytes", "> 0"),
    ({"streams": {"stuck_timeout": 0}}, "streams.stuck_timeout", "> 0"),
    ({"streams": {"max_pollers": 0}}, "streams.max_pollers", "> 0"),
    ({"streams": {"max_pollers_per_connection": 0}}, "streams.max_pollers_per_connection",
     "> 0"),
    ({"streams": {"max_pollers_per_address": 0}}, "streams.max_pollers_per_address", "> 0"),
    ({"streams": {"heartbeat": -1}}, "streams.heartbeat", ">= 0"),
    ({"alertmanager": {"timeout": 0}}, "alertmanager.timeout", "> 0"),
    ({"alertmanager": {"reconcile_interval": -1}}, "alertmanager.reconcile_interval", ">= 0"),
    ({"alertmanager": {"receiver": "team-(a"}}, "alertmanager.receiver", "regular expression"),
    ({"alerts": {"max_matchers": 0}}, "alerts.max_matchers", "> 0"),
    ({"alerts": {"resend_interval": -1}}, "alerts.resend_interval", "0..86400"),
    ({"alerts": {"resend_interval": 86401}}, "alerts.resend_interval", "0..86400"),
    ({"alerts": {"resend_interval": float("nan")}}, "alerts.resend_interval", "0..86400"),
    ({"alerts": {"ack_extend_if_expiring_in": 0}}, "alerts.ack_extend_if_expiring_in", "> 0"),
    ({"alerts": {"ack_extend_by": 300}}, "alerts.ack_extend_by",
     "> alerts.ack_extend_if_expiring_in"),
    ({"alertmanager": {"reconcile_interval": 300}}, "alerts.ack_extend_if_expiring_in",
     "> alertmanager.reconcile_interval + alertmanager.timeout (305)"),
    # A pass may take up to the request timeout on top of the interval.
    ({"alertmanager": {"reconcile_interval": 296}}, "alerts.ack_extend_if_expiring_in",
     "> alertmanager.reconcile_interval + alertmanager.timeout (301)"),
    ({"alertmanager": {"reconcile_interval": 60, "timeout": 240}},
     "alerts.ack_extend_if_expiring_in",
     "> alertmanager.reconcile_interval + alertmanager.timeout (300)"),
    ({"alerts": {"ack_max_duration": 0}}, "alerts.ack_max_duration", "> 0"),
    ({"alerts": {"ack_max_duration": 367 * 86400}}, "alerts.ack_max_duration", "366 days"),
    ({"http": {"allowed_origins": ["https://dash.example/"]}}, "http.allowed_origins[0]",
     "not an origin"),
    ({"http": {"allowed_origins": ["dash.example"]}}, "http.allowed_origins[0]",
     "not an origin"),
])
def test_bad_file_names_file_key_and_problem(tmp_path, data, key, words):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.source == path and info.value.key == key
    assert words in info.value.problem
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_ack_extension_off_takes_any_extend_by(tmp_path):
    path = write(tmp_path, {"alerts": {"ack_extend": False, "ack_extend_by": 60}})
    assert load_config(path, env={}).alerts.ack_extend_by == 60


def test_ack_threshold_above_interval_plus_timeout_loads(tmp_path):
    path = write(tmp_path, {"alertmanager": {"reconcile_interval": 294, "timeout": 5}})
    assert load_config(path, env={}).alerts.ack_extend_if_expiring_in == 300


def test_ack_threshold_unchecked_without_passes(tmp_path):
    """reconcile_interval 0: one watcher pass at start, no extension passes to space out."""
    path = write(tmp_path, {"alertmanager": {"reconcile_interval": 0, "timeout": 30},
                            "alerts": {"ack_extend_if_expiring_in": 10, "ack_extend_by": 20}})
    assert load_config(path, env={}).alerts.ack_extend_if_expiring_in == 10


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "a: [1, 2\nb: c"), env={})
    assert "invalid YAML" in info.value.problem and info.value.key.startswith("line ")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "- 1\n- 2\n"), env={})
    assert info.value.key == "(top level)"
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "missing.yml"), env={})
    assert info.value.key == "(file)"


def test_bad_env_and_flag_name_their_source():
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"PROMWIRE_PROMETHEUS_URL": "prom:9090"})
    assert info.value.source == "environment PROMWIRE_PROMETHEUS_URL"
    assert info.value.key == "prometheus.url"
    with pytest.raises(ConfigError) as info:
        load_config(None, env={}, overrides={"log_level": "shout"})
    assert info.value.source == "flag --log-level"


def test_parse_listen():
    assert parse_listen(":8000") == ("0.0.0.0", 8000)
    assert parse_listen("[::1]:8000") == ("::1", 8000)
    with pytest.raises(ValueError):
        parse_listen("8000")


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        BridgeConfig().listen = "x"  # type: ignore[misc]


def test_example_file_loads_and_equals_the_defaults():
    """config/bridge.yml lists every key with its default: loading it changes nothing."""
    config = load_config(str(EXAMPLE), env={})
    assert config == BridgeConfig()
    data = yaml.safe_load(EXAMPLE.read_text())
    defaults = BridgeConfig()
    for section, values in data.items():
        if isinstance(values, dict):
            expected = {f for f in type(getattr(defaults, section)).__dataclass_fields__}
            assert set(values) == expected, section


def test_the_postgres_store_takes_its_url_from_any_layer(tmp_path):
    url = "postgresql://promwire:s3cret@db:5432/promwire"
    path = write(tmp_path, {"alerts": {"store": "postgres"}})
    config = load_config(path, env={"PROMWIRE_DATABASE_URL": url})
    assert (config.alerts.store, config.alerts.database_url) == ("postgres", url)
    flags = load_config(None, env={}, overrides={"alerts_store": "postgres", "database_url": url,
                                                 "replica_id": "bridge-a"})
    assert flags.alerts.database_url == url and flags.alerts.replica_id == "bridge-a"
    assert load_config(None, env={}).alerts.store == "sqlite"  # the default, unchanged


@pytest.mark.parametrize(("layers", "key", "problem"), [
    ({"alerts_store": "postgres"}, "alerts.database_url", "required with alerts.store: postgres"),
    ({"database_url": "postgresql://u:s3cret@db/x"}, "alerts.store", "is sqlite but"),
    ({"alerts_store": "mysql"}, "alerts.store", "expected one of sqlite, postgres"),
    ({"alerts_store": "postgres", "database_url": "mysql://u:s3cret@db/x"},
     "alerts.database_url", "expected a postgresql://"),
])
def test_store_settings_that_do_not_go_together_are_refused(layers, key, problem):
    with pytest.raises(ConfigError) as err:
        load_config(None, env={}, overrides=layers)
    assert err.value.key == key and problem in err.value.problem
    assert "s3cret" not in str(err.value)  # a password is never echoed
