"""The live streams of metrics: one shared poller per distinct subscription, fanned out to
WebSocket and SSE clients.

- `hub`: pollers, subscriptions, the backlog flusher, heartbeats, Prometheus status frames;
- `connection`: the one socket writer (backpressure, bounded queues), also used by the alert
  streams;
- `frames`: frames encoded once per wire format and shared; deltas;
- `subscriptions`: a subscribe request validated into the `PollerKey` that picks its poller;
- `ws`, `sse`: the two endpoints; `apidoc`: their OpenAPI description.
"""
