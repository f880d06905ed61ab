"""uname: the uname(2) fields as labels."""

from __future__ import annotations

import os

from exporter.collectors.uname import UnameCollector
from tests.exporter.helpers import collect_text, fixture_config, samples


def test_labels_are_unames():
    got = samples(collect_text(UnameCollector(fixture_config())))
    [(name, labels)] = got
    u = os.uname()
    assert name == "node_uname_info" and got[(name, labels)] == 1
    labels = dict(labels)
    assert (labels["sysname"], labels["release"], labels["version"], labels["machine"],
            labels["nodename"]) == (u.sysname, u.release, u.version, u.machine, u.nodename)
    assert labels["domainname"]
