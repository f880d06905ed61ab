"""GET /api/alerts/history selection (SQL where it can, a reader thread for the rest) and its
concurrency bound.

The oracle is the selection as the bridge did it before, on the event loop: read the next
`limit x 10` rows, decode each frame, apply the matchers in Python, stop at `limit`. Every
matcher type, missing labels, empty values, NUL (which SQLite's JSON strings cut short),
non-ASCII and quoting must give exactly the oracle's page.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridge.alerts import history
from bridge.alerts.matchers import Matcher, matches_all, parse_matcher
from bridge.alerts.model import Notice, fingerprint
from bridge.alerts.routes import HISTORY_GATE_KEY
from bridge.alerts.selection import Selection
from bridge.alerts.store import AlertStore
from bridge.config import AlertsConfig
from bridge.errors import BadRequest, Unavailable
from tests.bridge.alerts.helpers import AUTH, am_alert, make_app, payload

NAMES = ["alertname", "instance", "team", "sev"]
VALUES = ["", "a", "b", "ab", "a\x00", "\x00", "a\x00b", "é", "😀", "a\\u0000", 'q"', "\\",
          "line\nbreak", "A"]
PATTERNS = [".*", "a.*", "a|b", "", "[ab]+", ".*\x00.*", "é|😀", "(?i)a", ".+"]


def oracle(conn: sqlite3.Connection, since: int, until: int, limit: int,
           matchers: tuple[Matcher, ...]) -> tuple[list[str], int, bool]:
    """The previous semantics, verbatim."""
    scan = limit * history.SCAN_FACTOR if matchers else limit
    rows = conn.execute("SELECT seq, frame FROM events WHERE seq > ? AND seq <= ? "
                        "ORDER BY seq LIMIT ?", (since, until, scan)).fetchall()
    frames: list[str] = []
    cut = since
    for seq, text in rows:
        if len(frames) == limit:
            break
        cut = seq
        if not matchers or matches_all(matchers, json.loads(text)["alert"]["labels"]):
            frames.append(text)
    return frames, cut, bool(rows)


def matcher_text(name: str, op: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}{op}"{escaped}"'


def build_corpus(path: Path, count: int = 400) -> None:
    """A store of `count` events whose labels mix every awkward value above (and absences)."""
    async def fill() -> None:
        store = AlertStore(path, AlertsConfig())
        await store.open()
        notices = []
        for i in range(count):
            labels = {"alertname": f"A{i % 7}"}
            for j, name in enumerate(NAMES[1:]):
                pick = (i * (j + 3) + i // 5) % (len(VALUES) + 2)
                if pick < len(VALUES):  # else: the label is absent
                    labels[name] = VALUES[pick]
            notices.append(Notice(fingerprint=fingerprint(labels),
                                  status="firing" if i % 3 else "resolved", labels=labels,
                                  annotations={"i": str(i)}, starts_ms=1_700_000_000_000 + i,
                                  ends_ms=None, generator_url="", source="alertmanager"))
        for start in range(0, count, 50):
            await store.record(notices[start:start + 50])
        await store.close()
    asyncio.run(fill())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("history")
    build_corpus(path)
    conn = sqlite3.connect(path / "alerts.db", isolation_level=None)
    (last,) = conn.execute("SELECT max(seq) FROM events").fetchone()
    yield conn, last
    conn.close()


def check(conn: sqlite3.Connection, since: int, until: int, limit: int,
          matchers: tuple[Matcher, ...]) -> None:
    page = history.select_page(conn, since, until, limit, matchers)
    assert (page.frames, page.cut, page.scanned) == oracle(conn, since, until, limit, matchers)


@pytest.mark.parametrize("op", ["=", "!="])
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("name", [*NAMES, "absent", "na:me"])
def test_each_equality_matcher_matches_the_oracle(corpus, name, op, value):
    conn, last = corpus
    matcher = parse_matcher(matcher_text(name, op, value))
    for since, limit in ((0, 1000), (0, 3), (57, 7), (last - 5, 10)):
        check(conn, since, last, limit, (matcher,))


@pytest.mark.parametrize("op", ["=~", "!~"])
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name", [*NAMES, "absent"])
def test_each_regex_matcher_matches_the_oracle(corpus, name, op, pattern):
    conn, last = corpus
    matcher = parse_matcher(matcher_text(name, op, pattern))
    for since, limit in ((0, 1000), (0, 3), (57, 7), (last - 5, 10)):
        check(conn, since, last, limit, (matcher,))


def test_no_window_and_the_end_of_the_log(corpus):
    conn, last = corpus
    m = (parse_matcher('team="a"'),)
    check(conn, last, last, 10, m)  # nothing after the end
    check(conn, 10, 10, 10, m)  # until == since
    check(conn, 0, 40, 1000, m)  # `until` below the end (events committed after `last`)
    assert history.select_page(conn, last, last, 10, m).scanned is False


matcher_strategy = st.builds(
    matcher_text, st.sampled_from([*NAMES, "absent"]), st.sampled_from(["=", "!=", "=~", "!~"]),
    st.sampled_from(VALUES + PATTERNS) | st.text(alphabet="ab\x00é.*|", max_size=4))


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(matcher_strategy, min_size=1, max_size=4),
       since=st.integers(0, 420), span=st.integers(0, 420), limit=st.integers(1, 60))
def test_any_combination_matches_the_oracle(corpus, texts, since, span, limit):
    conn, last = corpus
    try:
        matchers = tuple(parse_matcher(t) for t in texts)
    except BadRequest:
        assume(False)
    check(conn, since, min(last, since + span), limit, matchers)


def test_equality_matchers_are_evaluated_in_sql(corpus, monkeypatch):
    """Rows an `=` matcher excludes never reach Python (only rows whose labels hold a NUL,
    which SQLite's JSON strings cut short, are always left to Python)."""
    conn, last = corpus
    checked = []
    wants = Selection.wants
    monkeypatch.setattr(Selection, "wants", lambda self, kind, alert: checked.append(
        alert["labels"]) or wants(self, kind, alert))

    def has_nul(labels):  # as the stored JSON text shows it (a literal "\u0000" looks alike)
        return "\\u0000" in json.dumps(labels)
    page = history.select_page(conn, 0, last, 1000, (parse_matcher('team="nobody"'),))
    assert page.frames == [] and page.cut == last
    assert checked and all(has_nul(labels) for labels in checked)
    checked.clear()
    history.select_page(conn, 0, last, 1000, (parse_matcher('team="b"'),))
    assert checked and all(labels.get("team") == "b" or has_nul(labels) for labels in checked)
    assert any(labels.get("team") == "b" for labels in checked)
    assert history.sql_clause(parse_matcher('a=~"x"')) is None
    assert history.sql_clause(parse_matcher('a!~"x"')) is None


async def test_the_route_answers_as_before_for_every_matcher_type(aiohttp_client, tmp_path):
    client = await aiohttp_client(make_app(tmp_path))
    for i in range(30):
        severity = ["critical", "warning", ""][i % 3]
        labels = {"severity": severity} if severity else {}
        resp = await client.post("/api/alerts/webhook", headers=AUTH,
                                 json=payload(am_alert(f"R{i:02d}", **labels)))
        assert resp.status == 200
    conn = sqlite3.connect(tmp_path / "alerts.db", isolation_level=None)
    try:
        for text in ['severity="critical"', 'severity!="critical"', 'severity=""',
                     'severity=~"crit.*|"', 'severity!~"warn.*"']:
            since = 0
            while since is not None:
                resp = await client.get("/api/alerts/history",
                                        params={"filter": text, "limit": "2", "since": since})
                body = await resp.json()
                frames, cut, scanned = oracle(conn, since, body["last_seq"], 2,
                                              (parse_matcher(text),))
                assert body["events"] == [json.loads(f) for f in frames]
                expected_next = cut if cut < body["last_seq"] and scanned else None
                assert body["next"] == expected_next
                since = body["next"]
    finally:
        conn.close()


async def test_the_gate_bounds_holders_and_waiters():
    gate = history.Gate(2, wait=0.2)
    inside = 0
    peak = 0
    release = asyncio.Event()

    async def hold() -> str:
        nonlocal inside, peak
        try:
            async with gate.enter():
                inside += 1
                peak = max(peak, inside)
                await release.wait()
                inside -= 1
                return "served"
        except Unavailable as exc:
            return exc.detail
    tasks = [asyncio.create_task(hold()) for _ in range(2 + gate.max_waiting + 3)]
    await asyncio.sleep(0.05)
    assert inside == 2 and gate.waiting == gate.max_waiting
    # Beyond the waiters: refused at once.
    done = [t for t in tasks if t.done()]
    assert len(done) == 3 and all("too many" in t.result() for t in done)
    await asyncio.sleep(0.3)  # the waiters' 0.2 s pass
    assert gate.waiting == 0 and sum(t.done() for t in tasks) == 3 + gate.max_waiting
    release.set()
    results = await asyncio.gather(*tasks)
    assert results.count("served") == 2 and peak == 2


async def test_history_requests_beyond_the_bound_get_503_json(aiohttp_client, tmp_path,
                                                              monkeypatch):
    """history_concurrency=2: two queries run, eight wait, the rest are 503 at once; at most two
    ever run together, and every waiter is served once the running ones finish."""
    client = await aiohttp_client(make_app(tmp_path, history_concurrency=2))
    resp = await client.post("/api/alerts/webhook", headers=AUTH,
                             json=payload(am_alert("Bound", severity="critical")))
    assert resp.status == 200
    gate = client.app[HISTORY_GATE_KEY]
    running, peak, lock = 0, 0, threading.Lock()
    go = threading.Event()
    real = history.select_page

    def slow(*args):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        go.wait(10)
        try:
            return real(*args)
        finally:
            with lock:
                running -= 1
    monkeypatch.setattr(history, "select_page", slow)
    url = '/api/alerts/history?filter=severity="critical"'
    requests = [asyncio.create_task(client.get(url)) for _ in range(2 + gate.max_waiting + 5)]
    for _ in range(1000):  # a loaded machine: the refused answers may take a while to arrive
        await asyncio.sleep(0.01)
        if running == 2 and gate.waiting == gate.max_waiting \
                and sum(r.done() for r in requests) == 5:
            break
    assert running == 2 and gate.waiting == gate.max_waiting
    refused = [r for r in requests if r.done()]
    assert len(refused) == 5
    for task in refused:
        resp = task.result()
        body = await resp.json()
        assert resp.status == 503 and body["error"] == "unavailable"
        assert "too many alert history queries" in body["detail"]
    go.set()
    served = [await r for r in requests if r not in refused]
    assert [r.status for r in served] == [200] * (2 + gate.max_waiting)
    assert [len((await r.json())["events"]) for r in served] == [1] * len(served)
    assert peak == 2
