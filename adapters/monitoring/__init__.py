"""Watching a running fengkong: Prometheus metrics and the status report."""
