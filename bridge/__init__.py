"""promwire bridge: Prometheus and Alertmanager re-served as REST, WebSocket and SSE streams."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("promwire")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"
