"""Alerts: Alertmanager webhook in, an event log (embedded SQLite, or PostgreSQL shared by
bridge replicas: `bridge.alerts.pg`, both behind `bridge.alerts.backend`), lossless live streams
out.

`bridge.alerts.routes.setup(app)` is the feature entry point listed in `bridge.app`. The live
streams write through `bridge.streams.connection`; reconciliation reads Alertmanager through
`bridge.upstream.alertmanager`.
"""
