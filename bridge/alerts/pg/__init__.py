"""The alert log on PostgreSQL: one log shared by any number of bridge replicas.

- `sql`: every statement (schema migrations and queries), in one place;
- `migrations`: versioned, idempotent schema changes, applied at start under an advisory lock;
- `connect`: the connection pool, URL redaction, and driver errors as StorageUnavailable;
- `writer`: group commit: the webhooks waiting meet in one transaction, decided and numbered
  under the log head's row lock (one ordering point for every replica);
- `fanout`: LISTEN/NOTIFY plus polling: every replica publishes every committed event, in seq
  order, exactly once;
- `leader`: a session advisory lock choosing the one replica that reconciles and prunes;
- `history`: GET /api/alerts/history pages;
- `store`: `PgAlertStore`, the `bridge.alerts.backend.AlertLog` made of these.
"""
