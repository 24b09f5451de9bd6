"""The Recorder that counts, with prometheus-client. Every metric lives on `registry`, which this
object owns: prometheus-client's default REGISTRY is global and is never used.

With several worker processes, prometheus-client's multiprocess mode keeps the values in files
(PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is first imported in a worker);
the open-connections gauge is summed over the live processes (`livesum`). exposition.py reads
them back.
"""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mailguard.metrics.recorder import (CONNECTION_LIMITS, DOWNSTREAM_STAGES, FRONTENDS, RCPT_REASONS,
                                        ConnectionLimit, DownstreamStage, Frontend, RcptReason)
from mailguard.scan.verdict import Action

# Seconds. A scan is bounded by [server] scan_timeout (10 s by default), DATA to Postfix by the
# relay's data timeout; the top buckets catch those deadlines.
SCAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CHECK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DOWNSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class PrometheusRecorder:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self._messages = Counter("mailguard_messages", "Messages after DATA, by what mailguard did with them "
                                 "and the front end they came through", ["action", "frontend"], registry=r)
        self._symbols = Counter("mailguard_symbols", "Symbols in messages' verdicts and in RCPT refusals",
                                ["symbol"], registry=r)
        self._scan = Histogram("mailguard_scan_seconds", "Time of the data-phase scan of a message",
                               buckets=SCAN_BUCKETS, registry=r)
        self._check = Histogram("mailguard_check_seconds", "Time of one run of one check",
                                ["check"], buckets=CHECK_BUCKETS, registry=r)
        self._check_errors = Counter("mailguard_check_errors", "Checks that raised (CHECK_ERROR_<CHECK>)",
                                     ["check"], registry=r)
        self._check_timeouts = Counter("mailguard_check_timeouts", "Checks out of their budget or the scan "
                                       "deadline (CHECK_TIMEOUT_<CHECK>)", ["check"], registry=r)
        self._rcpt_refused = Counter("mailguard_rcpt_refused", "Recipients refused at RCPT, by reason",
                                     ["reason"], registry=r)
        self._downstream_errors = Counter("mailguard_downstream_errors", "Downstream steps that failed "
                                          "(unreachable, no answer in time, connection lost, 421)",
                                          ["stage"], registry=r)
        self._downstream = Histogram("mailguard_downstream_seconds", "Time from DATA sent to the downstream "
                                     "to its final answer", buckets=DOWNSTREAM_BUCKETS, registry=r)
        self._open = Gauge("mailguard_connections_open", "Client connections open now, by front end",
                           ["frontend"], multiprocess_mode="livesum", registry=r)
        self._refused = Counter("mailguard_connections_refused", "Connections refused with 421 by a "
                                "connection limit", ["limit", "frontend"], registry=r)
        self._dns_queries = Counter("mailguard_dns_queries", "DNS questions sent to a server", registry=r)
        self._dns_timeouts = Counter("mailguard_dns_timeouts", "DNS questions without an answer in time",
                                     registry=r)
        self._dns_hits = Counter("mailguard_dns_cache_hits", "DNS questions answered from the cache", registry=r)
        self._reloads = Counter("mailguard_reloads", "Configuration reloads (SIGHUP), by result",
                                ["result"], registry=r)
        # Every known label value from the start: a rate over a series that appears late is wrong.
        for frontend in FRONTENDS:
            self._open.labels(frontend)
            for action in Action:
                self._messages.labels(action.value, frontend)
            for limit in CONNECTION_LIMITS:
                self._refused.labels(limit, frontend)
        for reason in RCPT_REASONS:
            self._rcpt_refused.labels(reason)
        for stage in DOWNSTREAM_STAGES:
            self._downstream_errors.labels(stage)
        for result in ("ok", "failed"):
            self._reloads.labels(result)

    def message(self, action: str, frontend: Frontend) -> None:
        self._messages.labels(action, frontend).inc()

    def symbols(self, names: Iterable[str]) -> None:
        for name in names:
            self._symbols.labels(name).inc()

    def scan_latency(self, seconds: float) -> None:
        self._scan.observe(seconds)

    def check_latency(self, check: str, seconds: float) -> None:
        self._check.labels(check).observe(seconds)

    def check_error(self, check: str) -> None:
        self._check_errors.labels(check).inc()

    def check_timeout(self, check: str) -> None:
        self._check_timeouts.labels(check).inc()

    def rcpt_refused(self, reason: RcptReason) -> None:
        self._rcpt_refused.labels(reason).inc()

    def downstream_error(self, stage: DownstreamStage) -> None:
        self._downstream_errors.labels(stage).inc()

    def downstream_latency(self, seconds: float) -> None:
        self._downstream.observe(seconds)

    def connection_opened(self, frontend: Frontend) -> None:
        self._open.labels(frontend).inc()

    def connection_closed(self, frontend: Frontend) -> None:
        self._open.labels(frontend).dec()

    def connection_refused(self, limit: ConnectionLimit, frontend: Frontend) -> None:
        self._refused.labels(limit, frontend).inc()

    def dns_query(self) -> None:
        self._dns_queries.inc()

    def dns_timeout(self) -> None:
        self._dns_timeouts.inc()

    def dns_cache_hit(self) -> None:
        self._dns_hits.inc()

    def reload(self, ok: bool) -> None:
        self._reloads.labels("ok" if ok else "failed").inc()
