"""bridge.metrics.instances' pure parts: scrape intervals from Prometheus' configuration,
the state rule."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bridge.metrics.instances import DEFAULT_INTERVAL, parse_intervals, queries, state


def test_intervals_per_job_with_the_global_one_for_the_rest():
    intervals = parse_intervals(
        "global:\n  scrape_interval: 1m30s\nscrape_configs:\n"
        "- job_name: node\n  scrape_interval: 5s\n- job_name: slow\n- job_name: fast\n"
        "  scrape_interval: 500ms\n")
    assert intervals.default == 90
    assert intervals.jobs == {"node": 5, "slow": 90, "fast": 0.5}
    assert intervals.of("node") == 5 and intervals.of("removed-job") == 90


def test_intervals_default_to_prometheus_default():
    assert parse_intervals("{}").of("node") == DEFAULT_INTERVAL


@pytest.mark.parametrize("text", ["[]", "global: [1]", "scrape_configs: 3", "7",
                                  "global: {scrape_interval: soon}"])
def test_not_a_configuration_is_a_value_error(text):
    with pytest.raises(ValueError):
        parse_intervals(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_what_the_lister_catches(text):
    try:
        parse_intervals(text)
    except (ValueError, yaml.YAMLError):
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.sampled_from(["global", "scrape_configs", "job_name",
                                                       "scrape_interval", "x"]), children,
                                      max_size=4), max_leaves=12))
def test_any_yaml_structure_parses_or_raises_value_error(data):
    try:
        parse_intervals(yaml.safe_dump(data))
    except ValueError:
        pass


def test_state_needs_a_fresh_sample():
    assert state(1.0, 100.0, 110.0, 5.0) == "up"
    assert state(0.0, 100.0, 110.0, 5.0) == "down"
    assert state(1.0, 100.0, 110.1, 5.0) == "stale"   # older than 2 intervals
    assert state(0.0, 100.0, 110.1, 5.0) == "stale"
    assert state(None, 109.0, 110.0, 5.0) == "stale"  # Prometheus no longer returns it
    assert state(2.0, 100.0, 101.0, 5.0) == "down"    # only 1 is up


def test_queries_name_the_configured_jobs_escaped():
    current, newest = queries(("node", "edge.hosts"))
    assert current == 'up{job=~"node|edge\\\\.hosts"}'
    assert newest.startswith('(timestamp(up{job=~"node|edge\\\\.hosts"}) or ')
    assert "node_boot_time_seconds" not in current + newest
    assert all("node_boot_time_seconds" in q for q in queries(()))
