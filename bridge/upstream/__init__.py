"""Clients of the services the bridge re-serves: Prometheus (`prometheus`, whose answers
`promresult` parses) and Alertmanager (`alertmanager`). Each maps every way its service can
fail to a `bridge.errors.UpstreamError` and counts its requests in the bridge's own metrics."""
