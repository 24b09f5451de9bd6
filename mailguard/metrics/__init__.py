"""Prometheus metrics (`[metrics] listen`): what the flow, the checks and the front ends count,
and the HTTP listener that serves it.

Everything that counts talks to a `Recorder` (recorder.py). `NO_METRICS` does nothing: `scan`,
the unit tests and a server without `[metrics] listen` use it, and prometheus-client is then
never imported. A server with metrics builds one `PrometheusRecorder` (prometheus.py), which
owns its registry; exposition.py serves it (or, with several worker processes, what they all
wrote to PROMETHEUS_MULTIPROC_DIR) together with the gauges read at scrape time (state.py).
"""
from mailguard.metrics.recorder import NO_METRICS, NoMetrics, Recorder

__all__ = ["NO_METRICS", "NoMetrics", "Recorder"]
