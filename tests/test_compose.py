"""docker-compose.yml and the Dockerfile, validated without a Docker engine (none runs here).

What is proven: the file matches the Compose Specification's JSON schema; every service has an
image or a build; every bind-mounted path exists; the compose variants of the Prometheus and
Alertmanager configs pass promtool/amtool and differ from the shipped ones only in their
targets; the services' commands run — the exporter, the bridge, Debian's Prometheus and
Alertmanager are started here with the compose flags, container paths mapped through the
compose volumes — and every address one service uses for another matches that service's
name, listen port and published port. The Grafana provisioning is checked against the mounts.
Not proven: that images build and containers start under a real engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests import servers

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
HOST_PATHS = {"/proc", "/sys", "/"}  # the host's, for the exporter only


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def flag(service: str, name: str) -> str:
    """The value of `--name=VALUE` in a service's command."""
    values = [a.split("=", 1)[1] for a in SERVICES[service]["command"]
              if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"{service}: --{name} given {len(values)} times"
    return values[0]


def mounts(service: str) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service (short syntax)."""
    return [tuple(v.split(":")[:2]) for v in SERVICES[service].get("volumes", [])]


def to_host(service: str, path: str, volumes: Path) -> str:
    """Where a container path of `service` is on this machine: bind mounts map to their
    source (repository paths under ROOT), named volumes to a directory under `volumes`."""
    for source, target in sorted(mounts(service), key=lambda m: -len(m[1])):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            if source.startswith("."):
                base = ROOT / source
            elif source.startswith("/"):
                base = Path(source)
            else:
                base = volumes / source
                base.mkdir(parents=True, exist_ok=True)
            return str(base / path[len(target):].lstrip("/"))
    return path


def host_argv(service: str, volumes: Path) -> list[str]:
    """The service's command with every `--flag=/container/path` mapped to this machine."""
    out = []
    for arg in SERVICES[service]["command"]:
        name, sep, value = arg.partition("=")
        out.append(f"{name}={to_host(service, value, volumes)}"
                   if sep and value.startswith("/") else arg)
    return out


def without_targets(config: dict[str, Any]) -> dict[str, Any]:
    config = json.loads(json.dumps(config))
    for am in config.get("alerting", {}).get("alertmanagers", []):
        am["static_configs"] = []
    for job in config["scrape_configs"]:
        job["static_configs"] = []
    return config


# ---------------------------------------------------------------------------- the file


def test_compose_file_matches_the_compose_specification():
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendor.joinpath("compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors
    broken = {**COMPOSE, "services": {**SERVICES, "bridge": {**SERVICES["bridge"], "ports": 8000}}}
    assert list(validator.iter_errors(broken)), "the schema check must be able to fail"


def test_every_service_has_a_pinned_image_or_a_build():
    default = {name for name, service in SERVICES.items() if "profiles" not in service}
    assert default == {"exporter", "bridge", "prometheus", "alertmanager", "grafana"}
    # The rest is the `ha` profile's (tests/test_compose_ha.py).
    assert {p for s in SERVICES.values() for p in s.get("profiles", [])} == {"ha"}
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name
        if "build" not in service:
            # A full release: X.Y.Z, or X.Y for PostgreSQL, whose releases have two numbers.
            full = r"^postgres:\d+\.\d+$|:v?\d+\.\d+\.\d+$"
            assert re.search(full, service["image"]), f"{name}: pin a version"


def test_bind_mounts_exist_and_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes", {}))
    for name in SERVICES:
        for source, target in mounts(name):
            assert target.startswith("/"), f"{name}: {target}"
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            elif source.startswith("/"):
                assert name == "exporter" and source in HOST_PATHS, f"{name}: host path {source}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_exporter_sees_the_host_as_node_exporter_documents():
    exporter = SERVICES["exporter"]
    assert exporter["pid"] == "host" and exporter["network_mode"] == "host"
    assert dict(mounts("exporter")) == {"/proc": flag("exporter", "path.procfs"),
                                        "/sys": flag("exporter", "path.sysfs"),
                                        "/": flag("exporter", "path.rootfs")}
    assert all(v.endswith(":ro") or ":ro," in v for v in exporter["volumes"])


def test_dockerfile_installs_the_package_and_runs_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install \.( |$)", text, re.M)
    copied = [src for line in re.findall(r"^COPY (.+)$", text, re.M)
              for src in line.split()[:-1]]
    assert {"pyproject.toml", "README.md", "exporter", "bridge"} <= set(copied)
    ignore = (ROOT / ".dockerignore").read_text().split()
    for src in copied:
        assert (ROOT / src).exists(), src
        assert "*" not in ignore or f"!{src}" in ignore or f"!{src}/" in ignore, src
    assert re.search(r"^USER 65534(:65534)?$", text, re.M)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name in ("exporter", "bridge"):
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["command"][0] in scripts


# ---------------------------------------------------------------------------- wiring


def test_prometheus_targets_are_the_compose_services():
    prom = load(CONFIG / "prometheus" / "prometheus.compose.yml")
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in prom["scrape_configs"]}
    exporter_port = flag("exporter", "listen").rsplit(":", 1)[1]
    assert targets["node"] == [f"host.docker.internal:{exporter_port}"]
    assert "host.docker.internal:host-gateway" in SERVICES["prometheus"]["extra_hosts"]
    bridge_port = flag("bridge", "listen").rsplit(":", 1)[1]
    assert targets["promwire-bridge"] == [f"bridge:{bridge_port}"]
    assert targets["prometheus"] == ["localhost:9090"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == \
        ["alertmanager:9093"]
    assert flag("prometheus", "config.file") == "/etc/prometheus/prometheus.compose.yml"
    assert ("./config/prometheus", "/etc/prometheus") in mounts("prometheus")


def test_compose_prometheus_config_is_the_shipped_one_but_for_targets():
    base = load(CONFIG / "prometheus" / "prometheus.yml")
    compose = load(CONFIG / "prometheus" / "prometheus.compose.yml")
    assert without_targets(compose) == without_targets(base)


def test_bridge_reaches_prometheus_and_alertmanager_by_service_name():
    assert flag("bridge", "prometheus-url") == "http://prometheus:9090"
    assert flag("bridge", "alertmanager-url") == "http://alertmanager:9093"
    assert flag("bridge", "listen").startswith("0.0.0.0:")


def test_alertmanager_posts_to_the_bridge_with_the_bridge_s_token():
    base = load(CONFIG / "alertmanager" / "alertmanager.yml")
    compose = load(CONFIG / "alertmanager" / "alertmanager.compose.yml")
    hook = compose["receivers"][0]["webhook_configs"][0]
    base_hook = base["receivers"][0]["webhook_configs"][0]
    bridge_port = flag("bridge", "listen").rsplit(":", 1)[1]
    path = base_hook["url"].split("/", 3)[3]
    assert hook["url"] == f"http://bridge:{bridge_port}/{path}"
    token_file = Path(hook["http_config"]["authorization"]["credentials_file"])
    assert token_file.name == "auth_token"  # what the bridge creates in its --data-dir
    data_volume = dict((t, s) for s, t in mounts("bridge"))[flag("bridge", "data-dir")]
    assert dict((t, s) for s, t in mounts("alertmanager"))[str(token_file.parent)] == \
        data_volume
    assert any(v == f"{data_volume}:{token_file.parent}:ro"
               for v in SERVICES["alertmanager"]["volumes"])
    # Alertmanager (uid 65534) can read the 0600 file only if the bridge writes it as 65534.
    assert re.search(r"^USER 65534", (ROOT / "Dockerfile").read_text(), re.M)
    assert "bridge" in SERVICES["alertmanager"]["depends_on"]
    # Otherwise the same configuration.
    for config in (base, compose):
        config["receivers"][0]["webhook_configs"][0].pop("url")
        config["receivers"][0]["webhook_configs"][0]["http_config"].pop("authorization")
    assert compose == base


def test_published_ports_match_listen_ports_on_loopback():
    listen = {"bridge": flag("bridge", "listen").rsplit(":", 1)[1], "prometheus": "9090",
              "alertmanager": "9093", "grafana": "3000"}
    for name, port in listen.items():
        assert SERVICES[name]["ports"] == [f"127.0.0.1:{port}:{port}"], name
    assert "ports" not in SERVICES["exporter"]  # host network: it listens on the host


def test_grafana_provisioning_matches_the_mounts():
    targets = {s: t for s, t in mounts("grafana")}
    assert targets["./config/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_dir = targets["./dashboards"]
    provider = load(CONFIG / "grafana" / "provisioning" / "dashboards" / "promwire.yml")
    assert [p["options"]["path"] for p in provider["providers"]] == [dashboards_dir]
    (datasource,) = load(CONFIG / "grafana" / "provisioning" / "datasources" /
                         "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    prom = load(CONFIG / "prometheus" / "prometheus.compose.yml")
    assert datasource["jsonData"]["timeInterval"] == prom["global"]["scrape_interval"]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/")
    assert (ROOT / "dashboards" / home.removeprefix(dashboards_dir + "/")).is_file()


# ---------------------------------------------------------------------------- tools and runs


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(PROMTOOL is None or AMTOOL is None, reason="make test installs them")
def test_compose_configs_pass_promtool_and_amtool():
    prom = run(PROMTOOL, "check", "config", str(CONFIG / "prometheus" / "prometheus.compose.yml"))
    assert prom.returncode == 0 and "SUCCESS" in prom.stdout + prom.stderr, prom.stderr
    am = run(AMTOOL, "check-config", str(CONFIG / "alertmanager" / "alertmanager.compose.yml"))
    assert am.returncode == 0, am.stdout + am.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="make test installs promtool")
def test_shipped_and_rendered_prometheus_configs_pass_promtool(tmp_path: Path):
    from scripts import run_stack

    ports = {"bridge": 8000, "exporter": 9100, "prometheus": 9090, "alertmanager": 9093}
    rendered = run_stack.render_prometheus(tmp_path, ports, "5s")
    for path in (CONFIG / "prometheus" / "prometheus.yml", rendered):
        result = run(PROMTOOL, "check", "config", str(path))
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", ["exporter", "bridge"])
def test_promwire_commands_use_real_flags(service: str):
    module = {"promwire-exporter": "exporter", "promwire-bridge": "bridge"}[
        SERVICES[service]["command"][0]]
    usage = run(sys.executable, "-m", module, "--help").stdout
    for arg in SERVICES[service]["command"][1:]:
        assert arg.split("=", 1)[0] in usage, f"{service}: {arg} is not a flag of {module}"


def test_exporter_runs_with_the_compose_flags(tmp_path: Path):
    """The compose command, /host/proc etc. mapped back to this host's paths."""
    argv = [a for a in host_argv("exporter", tmp_path) if not a.startswith("--listen=")]
    assert "--path.procfs=/proc" in argv and "--path.rootfs=/" in argv
    port = servers.free_port()
    proc = servers.Process("exporter", [*servers.python_module("exporter"), *argv[1:],
                                        f"--listen=127.0.0.1:{port}"], tmp_path,
                           f"http://127.0.0.1:{port}", "/-/healthy")
    try:
        proc.start()
        body = servers.http_get(f"{proc.url}/metrics")[1].decode()
        assert 'node_filesystem_avail_bytes{device=' in body and 'mountpoint="/"' in body
        assert "node_network_receive_bytes_total{" in body
    finally:
        proc.stop()


def test_bridge_runs_with_the_compose_flags(tmp_path: Path):
    """Its --config is the mounted config/bridge.yml; it creates the token Alertmanager reads."""
    argv = [a for a in host_argv("bridge", tmp_path) if not a.startswith("--listen=")]
    assert f"--config={ROOT / 'config' / 'bridge.yml'}" in argv
    port = servers.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMWIRE_")}
    proc = servers.Process("bridge", [*servers.python_module("bridge"), *argv[1:],
                                      f"--listen=127.0.0.1:{port}"], tmp_path,
                           f"http://127.0.0.1:{port}", "/health", env=env)
    try:
        proc.start()
        token = tmp_path / "bridge-data" / "auth_token"
        assert token.is_file() and stat.S_IMODE(token.stat().st_mode) == 0o600
    finally:
        proc.stop()


@pytest.mark.skipif(servers.PROMETHEUS is None or servers.ALERTMANAGER is None,
                    reason="make test installs them")
@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_upstream_servers_start_with_the_compose_flags(service: str, tmp_path: Path):
    """Debian's Prometheus/Alertmanager accept the compose flags and load the compose config."""
    binary = {"prometheus": servers.PROMETHEUS, "alertmanager": servers.ALERTMANAGER}[service]
    argv = host_argv(service, tmp_path)
    usage = run(binary, "--help")
    for arg in argv:
        assert f"{arg.split('=', 1)[0]}=" in usage.stdout + usage.stderr, arg
    port = servers.free_port()
    proc = servers.Process(service, [binary, *argv, f"--web.listen-address=127.0.0.1:{port}"],
                           tmp_path, f"http://127.0.0.1:{port}", "/-/ready")
    try:
        proc.start()
        path = "/api/v1/status/config" if service == "prometheus" else "/api/v2/status"
        status, body = servers.http_json(proc.url + path)
        assert status == 200
        loaded = body["data"]["yaml"] if service == "prometheus" else body["config"]["original"]
        assert ("bridge:8000" if service == "prometheus" else "http://bridge:8000/") in loaded
    finally:
        proc.stop()
