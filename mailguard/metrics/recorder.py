"""The narrow interface through which the flow, the pipeline, the front ends, the resolver and
the server count things (README, "Metrics", names each metric it feeds), and its no-op form."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

Frontend = Literal["smtp", "milter"]
# Why a recipient was refused at RCPT: by the flow (the first four) or by the downstream.
RcptReason = Literal["too_many_recipients", "separate_transaction", "advertising_refusal", "policy", "downstream"]
# The downstream step that could not be done (unreachable, no answer in time, connection lost, 421).
DownstreamStage = Literal["mail", "rcpt", "data"]
# Which connection limit refused a client ([server] max_connections, ..._per_ip, ..._per_net).
ConnectionLimit = Literal["max_connections", "per_ip", "per_net"]

FRONTENDS: tuple[Frontend, ...] = ("smtp", "milter")
RCPT_REASONS: tuple[RcptReason, ...] = ("too_many_recipients", "separate_transaction", "advertising_refusal",
                                        "policy", "downstream")
DOWNSTREAM_STAGES: tuple[DownstreamStage, ...] = ("mail", "rcpt", "data")
CONNECTION_LIMITS: tuple[ConnectionLimit, ...] = ("max_connections", "per_ip", "per_net")


class Recorder(Protocol):
    def message(self, action: str, frontend: Frontend) -> None:
        """A message after DATA, by what was done with it (one of the six actions)."""

    def symbols(self, names: Iterable[str]) -> None:
        """The symbols of one verdict (each name once)."""

    def scan_latency(self, seconds: float) -> None:
        """One data-phase scan, checks and rules."""

    def check_latency(self, check: str, seconds: float) -> None:
        """One run of one check, until it answered, failed or was stopped."""

    def check_error(self, check: str) -> None:
        """A check raised (CHECK_ERROR_<CHECK>)."""

    def check_timeout(self, check: str) -> None:
        """A check ran out of its budget or the scan's deadline (CHECK_TIMEOUT_<CHECK>)."""

    def rcpt_refused(self, reason: RcptReason) -> None: ...

    def downstream_error(self, stage: DownstreamStage) -> None: ...

    def downstream_latency(self, seconds: float) -> None:
        """DATA sent to the downstream → its final answer."""

    def connection_opened(self, frontend: Frontend) -> None: ...

    def connection_closed(self, frontend: Frontend) -> None: ...

    def connection_refused(self, limit: ConnectionLimit, frontend: Frontend) -> None: ...

    def dns_query(self) -> None:
        """A question sent to a DNS server (not answered from the cache, not joined to one in flight)."""

    def dns_timeout(self) -> None: ...

    def dns_cache_hit(self) -> None: ...

    def reload(self, ok: bool) -> None:
        """A reload of the configuration (SIGHUP) took effect, or was refused."""


@dataclass(frozen=True)
class NoMetrics:
    """A Recorder that records nothing."""

    def message(self, action: str, frontend: Frontend) -> None:
        pass

    def symbols(self, names: Iterable[str]) -> None:
        pass

    def scan_latency(self, seconds: float) -> None:
        pass

    def check_latency(self, check: str, seconds: float) -> None:
        pass

    def check_error(self, check: str) -> None:
        pass

    def check_timeout(self, check: str) -> None:
        pass

    def rcpt_refused(self, reason: RcptReason) -> None:
        pass

    def downstream_error(self, stage: DownstreamStage) -> None:
        pass

    def downstream_latency(self, seconds: float) -> None:
        pass

    def connection_opened(self, frontend: Frontend) -> None:
        pass

    def connection_closed(self, frontend: Frontend) -> None:
        pass

    def connection_refused(self, limit: ConnectionLimit, frontend: Frontend) -> None:
        pass

    def dns_query(self) -> None:
        pass

    def dns_timeout(self) -> None:
        pass

    def dns_cache_hit(self) -> None:
        pass

    def reload(self, ok: bool) -> None:
        pass


NO_METRICS = NoMetrics()
