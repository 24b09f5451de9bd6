"""Configured zones, compiled once, and which of them are resting after repeated failures."""
from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from mailguard.dnsbl.codes import AnswerMeaning, CodeRule, meaning, parse_blocked, parse_code
from mailguard.dnsbl.spec import DnsblSettings, DnsblZone


@dataclass(frozen=True)
class Zone:
    name: str  # the DNS zone
    kind: str  # "ip" | "domain"
    rules: tuple[CodeRule, ...]
    bitmask: bool
    default: tuple[str, float] | None
    blocked: tuple[ipaddress.IPv4Network, ...]
    spec: DnsblZone = DnsblZone()  # as configured: whether a client listing refuses (reject)

    @classmethod
    def compile(cls, spec: DnsblZone) -> Zone:
        return cls(spec.zone.rstrip(".").lower(), spec.kind, tuple(parse_code(c, spec.bitmask) for c in spec.codes),
                   spec.bitmask, (spec.symbol, spec.score) if spec.symbol else None,
                   tuple(parse_blocked(b) for b in spec.blocked), spec)

    def refuses(self, symbol: str) -> bool:
        """A listing of the client address giving `symbol` refuses the client at RCPT."""
        return self.spec.refuses(symbol)

    def meaning(self, answers: tuple[str, ...]) -> AnswerMeaning:
        return meaning(answers, self.rules, self.bitmask, self.blocked, self.default)


@dataclass
class ZoneHealth:
    """Consecutive failures per zone; a zone failing `limit` times in a row rests for `rest` s.
    Shared by every message of a process (CheckServices), so one dead list slows few messages."""

    limit: int
    rest: float
    _failures: dict[str, int] = field(default_factory=dict)
    _down_until: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, settings: DnsblSettings) -> ZoneHealth:
        return cls(settings.failures_to_mark_down, settings.down_seconds)

    def is_down(self, zone: str, now: float | None = None) -> bool:
        until = self._down_until.get(zone)
        if until is None:
            return False
        if (now or time.monotonic()) >= until:
            del self._down_until[zone]
            self._failures[zone] = self.limit - 1  # one more failure and it rests again
            return False
        return True

    def failed(self, zone: str) -> bool:
        """Count a failure; True when the zone has just been marked down."""
        count = self._failures.get(zone, 0) + 1
        self._failures[zone] = count
        if count >= self.limit and zone not in self._down_until:
            self._down_until[zone] = time.monotonic() + self.rest
            return True
        return False

    def answered(self, zone: str) -> None:
        self._failures.pop(zone, None)
