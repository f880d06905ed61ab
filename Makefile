# promwire — every target does its own set-up on a fresh Debian machine (run as root for apt-get).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
RUN_ARGS ?=

.PHONY: run test lint bench fuzz debs test-debs clean help vendor-uplot

help:
	@echo "make run    - set up and run the local stack (exporter, Prometheus, Alertmanager, bridge)"
	@echo "make test   - set up and run ruff + pytest (unit and integration)"
	@echo "make bench  - set up and run the benchmarks in bench/"
	@echo "make fuzz   - set up and run the long schemathesis pass over the bridge's API"
	@echo "make vendor-uplot - refetch the live page's pinned uPlot from the npm registry"

$(PY):
	@python3 -m venv $(VENV) 2>/dev/null || { apt-get update -qq && $(APT_INSTALL) python3-venv python3-pip && python3 -m venv $(VENV); }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# Debian's Prometheus and Alertmanager, used by `make run` and by the integration tests.
debs:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	   || ! command -v prometheus-alertmanager >/dev/null || ! command -v amtool >/dev/null; then \
	  apt-get update -qq && $(APT_INSTALL) prometheus prometheus-alertmanager; \
	fi

# Debian's node_exporter: the anchor of the live parity tests and of the benchmarks; Chromium:
# the headless browser of the live page's tests; btrfs-progs: a real btrfs on a loop device
# for the btrfs collector's test against node_exporter; dbus-daemon: a private bus for the
# systemd collector's tests; postgresql: the shared alert log of the bridge replica tests (the
# tests run its binaries from /usr/lib/postgresql/*/bin themselves; no cluster is started here);
# haproxy: the `ha` compose profile's load balancer, checked and run in front of real bridges;
# victoria-metrics: a Prometheus-API store the bridge's metric half is tested against.
test-debs: debs
	@command -v prometheus-node-exporter >/dev/null || { apt-get update -qq && $(APT_INSTALL) prometheus-node-exporter; }
	@command -v chromium >/dev/null || { apt-get update -qq && $(APT_INSTALL) chromium; }
	@command -v mkfs.btrfs >/dev/null || { apt-get update -qq && $(APT_INSTALL) btrfs-progs; }
	@command -v dbus-daemon >/dev/null || { apt-get update -qq && $(APT_INSTALL) dbus-daemon; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && $(APT_INSTALL) postgresql; }
	@command -v haproxy >/dev/null || { apt-get update -qq && $(APT_INSTALL) haproxy; }
	@command -v victoria-metrics >/dev/null || { apt-get update -qq && $(APT_INSTALL) victoria-metrics; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) test-debs lint
	$(VENV)/bin/pytest -q

run: $(STAMP) debs
	$(PY) scripts/run_stack.py $(RUN_ARGS)

bench: $(STAMP) test-debs
	@set -e; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done
	@echo "== bench/alerts_ingest.py --store postgres --replicas 3"; \
	  $(PY) bench/alerts_ingest.py --store postgres --replicas 3

# The live page's charting library, at the version and checksums pinned in the script.
vendor-uplot:
	@command -v npm >/dev/null || { apt-get update -qq && $(APT_INSTALL) npm; }
	python3 scripts/vendor_uplot.py

# The long API fuzz: schemathesis over /api/openapi.json against a real stack, with and without
# the token (FUZZ_ARGS, e.g. '--max-examples 5000 --max-time 1200 --seed 7'); prints its counts.
FUZZ_ARGS ?=
fuzz: $(STAMP) debs
	$(PY) -m tests.bridge.apifuzz $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
