"""Backfill decisions: episodes from ALERTS on a grid, and what the log already knows."""

from __future__ import annotations

import json

from bridge.alerts import episodes as ep
from bridge.alerts.model import fingerprint, format_time

STEP = 15_000
SERIES = {"alertname": "Disk", "alertstate": "firing", "instance": "a"}


def feed(tracker: ep.Tracker, grids: range, fired: int, interval: int = 60_000) -> None:
    """The series present at `grids`; each grid point sees the latest evaluation <= it."""
    points = [(g, fired + (g - fired) // interval * interval) for g in grids]
    tracker.feed(SERIES, points)


def test_an_episode_starts_when_it_fired_and_ends_within_an_interval():
    tracker = ep.Tracker(STEP, 0, {"dc": "x"})
    fired = 100_000 + 7  # between grid points
    feed(tracker, range(105_000, 405_000, STEP), fired)
    tracker.chunk_done(600_000)
    (episode,) = tracker.done
    assert episode.labels == {"alertname": "Disk", "dc": "x", "instance": "a"}
    assert episode.fingerprint == fingerprint(episode.labels)
    assert episode.starts_ms == fired
    last_sample = fired + 240_000  # evaluations every 60 s up to the last grid point 390_000
    assert episode.ends_ms == min(last_sample + 60_000, 405_000)


def test_a_missing_grid_point_splits_and_an_open_or_truncated_run_is_not_written():
    tracker = ep.Tracker(STEP, 0, {})
    tracker.feed(SERIES, [(0, 0), (15_000, 0)])  # present at the window's first point
    tracker.feed(SERIES, [(60_000, 60_000), (75_000, 60_000)])
    tracker.feed(SERIES, [(150_000, 150_000), (165_000, 150_000)])
    tracker.chunk_done(165_000)  # the last run reaches the chunk's end: still open
    assert [e.starts_ms for e in tracker.done] == [60_000]
    assert tracker.open_since() == 150_000
    tracker.chunk_done(180_000)
    assert [e.starts_ms for e in tracker.done] == [60_000, 150_000]


def test_the_series_labels_win_over_external_labels():
    assert ep.alert_labels({"__name__": "ALERTS", "alertstate": "firing", "dc": "own"},
                           {"dc": "ext", "region": "r"}) == {"dc": "own", "region": "r"}


def alert(status: str, starts: int, ends: int | None = None) -> dict:
    return {"status": status, "startsAt": format_time(starts),
            "endsAt": None if ends is None else format_time(ends)}


def test_lives_from_events_and_overlap():
    known = ep.lives([alert("firing", 1000), alert("resolved", 1000, 5000),
                      alert("firing", 9000), alert("firing", 20_000)])
    # 9000 never resolved in the log: it lasted until the refire at 20000, which lasts on.
    assert known == [(1000, 5000), (9000, 20_000), (20_000, float("inf"))]
    fp, labels = "f", {"a": "1"}
    assert ep.overlaps(ep.Episode(fp, labels, 4000, 6000), known)
    assert not ep.overlaps(ep.Episode(fp, labels, 6000, 8000), known)


def test_choose_skips_known_overlapping_old_and_duplicate_episodes():
    labels = {"a": "1"}
    e1 = ep.Episode("f", labels, 6000, 8000)
    e2 = ep.Episode("f", labels, 7000, 7500)  # overlaps e1, chosen first
    e3 = ep.Episode("f", labels, 2000, 3000)  # overlaps a known life
    e4 = ep.Episode("g", labels, 100, 200)  # before the floor
    e5 = ep.Episode("g", labels, 600, 700)
    chosen = ep.choose([e2, e1, e3, e4, e5], {"f": [(1000, 5000)]}, floor_ms=500)
    assert chosen == [e5, e1]


def test_backfilled_frames_are_told_apart_from_a_label_holding_the_same_text():
    real = json.dumps({"alert": {"source": "prometheus", "labels": {}}},
                      separators=(",", ":"))
    label = json.dumps({"alert": {"source": "alertmanager",
                                  "labels": {"source": "prometheus"}}}, separators=(",", ":"))
    assert ep.backfilled(real) and not ep.backfilled(label)


def test_a_row_changes_only_from_nothing_or_an_older_resolved_life():
    episode = ep.Episode("f", {"a": "1"}, 5000, 6000)
    assert ep.replaces_row(None, None, episode)
    assert ep.replaces_row("resolved", 4000, episode)
    assert not ep.replaces_row("resolved", 9000, episode)
    assert not ep.replaces_row("firing", 1000, episode)
