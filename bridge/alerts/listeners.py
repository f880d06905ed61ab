"""What every alert store tells the rest of the bridge, and the defaults of a single bridge.

Both backends (`bridge.alerts.store`, SQLite; `bridge.alerts.pg`, PostgreSQL) inherit this, so
the hub, the streams and the reconciler subscribe the same way whichever one runs:

- `on_commit(listener)`: committed events, on the loop, in seq order, each exactly once;
- `on_reset(listener)`: the log was reset (a new epoch);
- `on_status(listener)`: the store became unreachable (a reason) or reachable again (None);
- `on_leader(listener)`: this bridge became (True) or stopped being (False) the one replica
  that reconciles and prunes;
- `on_reconcile_asked(listener)`: some replica asked for a reconciliation now
  (`ask_reconcile`: a truncated webhook), whichever replica took it.

A single bridge on its embedded SQLite file is always its own leader and never changes
reachability as a whole (its failures are per write: `write_error`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class StoreEvents:
    """Listener lists and their fan-out; the single-bridge defaults for leadership."""

    # Whether this bridge runs reconciliation and retention (one replica at a time).
    leader = True
    # This bridge's name among replicas (shown in /health).
    replica = ""

    def __init__(self) -> None:
        # Why the store could not be opened (None once open); /health shows it.
        self.error: str | None = None
        # Why the last write failed; None once a write succeeds again. /health is `degraded`
        # while it is set: webhooks are getting 503.
        self.write_error: str | None = None
        self._listeners: list[Callable[[list[Any]], None]] = []
        self._reset_listeners: list[Callable[[str], None]] = []
        self._status_listeners: list[Callable[[str | None], None]] = []
        self._leader_listeners: list[Callable[[bool], None]] = []
        self._asked_listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[list[Any]], None]) -> None:
        """Call `listener(events)` on the loop after each commit, in seq order."""
        self._listeners.append(listener)

    def on_reset(self, listener: Callable[[str], None]) -> None:
        """Call `listener(new_epoch)` on the loop after the log was reset."""
        self._reset_listeners.append(listener)

    def on_status(self, listener: Callable[[str | None], None]) -> None:
        """Call `listener(reason)` when the store becomes unreachable, `listener(None)` when it
        is back."""
        self._status_listeners.append(listener)

    def on_leader(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(leading)` when this replica gains or loses leadership."""
        self._leader_listeners.append(listener)

    def on_reconcile_asked(self, listener: Callable[[], None]) -> None:
        """Call `listener()` when any replica asks for a reconciliation now."""
        self._asked_listeners.append(listener)

    async def ask_reconcile(self) -> None:
        """Ask the leader replica to reconcile now. A single bridge is its own leader: it hears
        its own request at once."""
        self._announce_reconcile_asked()

    def _publish(self, events: list[Any]) -> None:
        if events:
            for listener in self._listeners:
                listener(events)

    def _announce_reset(self, epoch: str) -> None:
        for listener in self._reset_listeners:
            listener(epoch)

    def _announce_status(self, reason: str | None) -> None:
        for listener in self._status_listeners:
            listener(reason)

    def _announce_leader(self, leading: bool) -> None:
        for listener in self._leader_listeners:
            listener(leading)

    def _announce_reconcile_asked(self) -> None:
        for listener in self._asked_listeners:
            listener()

    def unavailable(self) -> str | None:
        """Why the store cannot serve the shared log right now (None: it can); /ready is 503
        while set. The embedded store has no such state: its writes fail one by one."""
        return None
