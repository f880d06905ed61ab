"""Backoff: the ceiling doubles to the cap, each delay is drawn uniformly below it (full
jitter), success starts again from the base."""

from __future__ import annotations

import random

import pytest

from bridge.client.backoff import AttemptLog, Backoff


def test_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=6.0, rng=random.Random(1))
    ceilings = []
    for _ in range(7):
        ceilings.append(backoff.ceiling())
        backoff.next_delay()
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0, 6.0]


def test_delays_are_full_jitter_below_the_ceiling() -> None:
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(7))
    draws = []
    for _ in range(2000):
        backoff.reset()
        for _ in range(3):  # third failure: ceiling 4
            backoff.next_delay()
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling == 8.0
        draws.append(delay)
    # Full jitter spreads over the whole range, not just near the ceiling.
    assert min(draws) < 1.0 and max(draws) > 7.0
    assert 3.5 < sum(draws) / len(draws) < 4.5


def test_same_seed_same_delays_and_reset_starts_over() -> None:
    a = Backoff(0.2, 10.0, rng=random.Random(42))
    b = Backoff(0.2, 10.0, rng=random.Random(42))
    assert [a.next_delay() for _ in range(5)] == [b.next_delay() for _ in range(5)]
    assert a.failures == 5 and a.ceiling() == 6.4
    a.reset()
    assert a.failures == 0 and a.ceiling() == 0.2


def test_huge_failure_counts_do_not_overflow() -> None:
    backoff = Backoff(1.0, 30.0, failures=10_000)
    assert backoff.ceiling() == 30.0
    assert 0 <= backoff.next_delay() <= 30.0


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 1), (1, 0), (2, 1)])
def test_bad_parameters_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base, cap)


def test_attempt_log_is_bounded_and_ordered() -> None:
    log = AttemptLog(maxlen=3)
    for i in range(5):
        log.add("ws", ok=i == 4, started=float(i), error="" if i == 4 else "refused",
                delay=i / 10, ceiling=i / 5)
    assert len(log) == 3
    assert [a.at for a in log] == [2.0, 3.0, 4.0]
    assert log[-1].ok and not log[0].ok and log[0].error == "refused"


def test_a_floor_keeps_each_delay_above_that_share_of_the_ceiling() -> None:
    """The reconciler's backoff (floor 0.5): never a retry at once, never above the ceiling."""
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(3), floor=0.5)
    for failures in range(12):
        ceiling = backoff.ceiling()
        assert ceiling == min(60.0, 2.0 ** failures)
        delay = backoff.next_delay()
        assert ceiling * 0.5 <= delay <= ceiling
    with pytest.raises(ValueError):
        Backoff(floor=1.5)
