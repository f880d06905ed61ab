"""promwire exporter: node_exporter-compatible host metrics on /metrics."""

# Kept equal to pyproject's version by tests/exporter/test_cli.py; importlib.metadata would
# find it too, but importing it costs ~4.6 MiB of RSS in a process budgeted at 40.
__version__ = "0.1.0"
