"""The alerts dashboard: Prometheus' ALERTS series, its rule and notification health, and the
bridge's end of the Alertmanager webhook."""

from __future__ import annotations

from grafana import RATE, Dashboard, Panel, query_variable, stat, ts
from grafana import Target as T

P = "promwire_bridge_"


def alerts() -> Dashboard:
    a = 'instance=~"$instance", severity=~"$severity"'
    d = Dashboard(
        "promwire-alerts", "promwire / Alerts", "Alerts pending and firing in Prometheus (the "
        "ALERTS series), how long they have been active, rule evaluation and notification "
        "health, and the webhooks the bridge received.", ["promwire", "alerts"],
        [query_variable("instance", "Instance", "label_values(up, instance)", multi=True,
                        all_value=".*"),
         query_variable("severity", "Severity", "label_values(ALERTS, severity)", multi=True,
                        all_value=".*")], refresh="10s")
    d.row("Now").add(
        stat("Firing", T(f'count(ALERTS{{alertstate="firing", {a}}}) or vector(0)'), w=6,
             steps=((None, "green"), (1, "red"))),
        stat("Pending", T(f'count(ALERTS{{alertstate="pending", {a}}}) or vector(0)'), w=6,
             steps=((None, "green"), (1, "orange"))),
        stat("Critical firing", T('count(ALERTS{alertstate="firing", severity="critical", '
                                  'instance=~"$instance"}) or vector(0)'), w=6,
             steps=((None, "green"), (1, "red"))),
        stat("Warnings firing", T('count(ALERTS{alertstate="firing", severity="warning", '
                                  'instance=~"$instance"}) or vector(0)'), w=6,
             steps=((None, "green"), (1, "orange"))),
        ts("Firing alerts by severity",
           T(f'count by (severity) (ALERTS{{alertstate="firing", {a}}})', "{{severity}}"),
           w=12, stack=True, min=0, custom={"drawStyle": "bars"}, decimals=0),
        ts("Pending and firing alerts by name",
           T(f"count by (alertname, alertstate) (ALERTS{{{a}}})",
             "{{alertname}} {{alertstate}}"), w=12, min=0, decimals=0),
        Panel("table", "Active alerts", [T(f"ALERTS{{{a}}}", instant=True, table=True)], w=12,
              h=10, transformations=[{"id": "organize", "options": {
                  "excludeByName": {"Time": True, "Value": True, "__name__": True},
                  "indexByName": {"alertname": 0, "alertstate": 1, "severity": 2,
                                  "instance": 3}}}]),
        Panel("bargauge", "Active for", [T(f"time() - ALERTS_FOR_STATE{{{a}}}",
                                           "{{alertname}} {{instance}}", instant=True)],
              unit="dtdurations", w=12, h=10,
              description="Since each pending or firing alert became active "
                          "(ALERTS_FOR_STATE holds that time)."),
    )
    d.row("Rules and notifications").add(
        ts("Rule group evaluation time",
           T("prometheus_rule_group_last_duration_seconds", "{{rule_group}}"),
           unit="s", w=8, min=0),
        ts("Rule evaluation failures",
           T(f"sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total[{RATE}]))",
             "{{rule_group}}"), unit="ops", w=8, min=0),
        ts("Notifications to Alertmanager",
           T(f"sum by (alertmanager) (rate(prometheus_notifications_sent_total[{RATE}]))",
             "sent to {{alertmanager}}"),
           T(f"sum by (alertmanager) (rate(prometheus_notifications_errors_total[{RATE}]))",
             "errors to {{alertmanager}}"),
           T("sum(prometheus_notifications_dropped_total)", "dropped (total)"),
           T("prometheus_notifications_alertmanagers_discovered", "alertmanagers"), w=8, min=0),
        ts("Webhooks received by the bridge",
           T(f"sum(rate({P}webhooks_received_total[{RATE}]))", "received"),
           T(f"sum by (reason) (rate({P}webhooks_rejected_total[{RATE}]))",
             "rejected: {{reason}}"), unit="reqps", w=12, min=0),
        ts("Alert events stored by the bridge",
           T(f"sum by (source) (increase({P}alert_events_stored_total[{RATE}]))",
             "{{source}}"), w=12, min=0, stack=True),
    )
    return d
