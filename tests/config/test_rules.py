"""The shipped Prometheus rules and Alertmanager config pass Prometheus' own tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

CONFIG = Path(__file__).resolve().parents[2] / "config"
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (make test installs it)")
def test_alert_rules_are_valid():
    result = run(PROMTOOL, "check", "rules", str(CONFIG / "prometheus" / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (make test installs it)")
def test_alert_rules_unit_tests_pass():
    result = run(PROMTOOL, "test", "rules", str(CONFIG / "prometheus" / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (make test installs it)")
def test_rule_unit_tests_catch_a_wrong_expectation(tmp_path):
    """The promtool tests are real: a wrong expected annotation fails them."""
    shutil.copy(CONFIG / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    text = (CONFIG / "prometheus" / "alerts_test.yml").read_text()
    assert "(currently 95.0%)" in text
    (tmp_path / "t.yml").write_text(text.replace("(currently 95.0%)", "(currently 94.0%)"))
    result = run(PROMTOOL, "test", "rules", str(tmp_path / "t.yml"))
    assert result.returncode != 0


def test_every_host_alert_has_severity_summary_and_description():
    groups = yaml.safe_load((CONFIG / "prometheus" / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    for expected in ("HostExporterDown", "HostHighCpuLoad", "HostLowMemory", "HostDiskAlmostFull",
                     "HostDiskFillingUp", "HostHighLoad", "HostNetworkErrors"):
        assert expected in names
    assert "predict_linear" in next(r for r in rules if r["alert"] == "HostDiskFillingUp")["expr"]
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    tests = (CONFIG / "prometheus" / "alerts_test.yml").read_text()
    for name in names:
        assert f"alertname: {name}" in tests, f"{name} has no promtool test"


@pytest.mark.skipif(AMTOOL is None, reason="amtool missing (make test installs it)")
def test_alertmanager_config_is_valid():
    result = run(AMTOOL, "check-config", str(CONFIG / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_routes_to_the_bridge_webhook_with_the_token_file():
    config = yaml.safe_load((CONFIG / "alertmanager" / "alertmanager.yml").read_text())
    assert set(config["route"]["group_by"]) == {"alertname", "instance"}
    (receiver,) = [r for r in config["receivers"] if r["name"] == config["route"]["receiver"]]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].endswith("/api/alerts/webhook")
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer"
    # Relative to the config file: the bridge's default DATA_DIR/auth_token from the repo root.
    resolved = (CONFIG / "alertmanager" / auth["credentials_file"]).resolve()
    assert resolved == CONFIG.parent / "data" / "auth_token"
