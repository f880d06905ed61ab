"""promwire exporter: node_exporter-compatible host metrics on /metrics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("promwire")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
