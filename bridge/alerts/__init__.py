"""Alerts: Alertmanager webhook in, an SQLite event log, lossless live streams out.

`setup(app)` (in `bridge.alerts.routes`) is the feature entry point listed in `bridge.app`.
"""

from bridge.alerts.routes import setup

__all__ = ["setup"]
