"""promwire exporter: node_exporter-compatible host metrics on /metrics."""
