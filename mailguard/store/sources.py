"""The repeat-sources port: reports counted per source, and the local block list they feed.

A source is (kind, value): kind "address" (a sender address), "domain" (an authenticated sender
domain), "ip" (a client address), "link" (a link's registered domain). Values are normalised by
the caller (the store compares them as given). A source is listed when `threshold` *distinct*
reporters reported it within `window` seconds; the entry expires after `expiry` seconds (a later
report past the threshold renews it).

Times are half-open, as in ledger.py: a report counted at `t` is in the window at `now` while
`now - window < t` (exactly `window` old no longer counts); an entry is listed at `now` while
`now < expires`. Each reporter counts once per source: the store keeps, per (source, reporter),
the time of the newest report, so one reporter reporting ten times is one reporter.

Counted reports are kept COUNT_KEEP_SECONDS, the longest window a site may choose (longer ones
are refused with ValueError, as their oldest reports would already be gone); `purge_sources`
drops older ones and the entries expired."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

SourceKind = Literal["address", "domain", "ip", "link"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("address", "domain", "ip", "link")
COUNT_KEEP_SECONDS = 30 * 86400  # the longest window: a month of reports per source


@dataclass(frozen=True)
class BlockEntry:
    kind: SourceKind
    value: str
    listed: float  # when it was listed (or last renewed)
    expires: float
    reporters: int  # distinct reporters in the window when it was listed

    @property
    def name(self) -> str:  # how the CLI names it: "ip:192.0.2.7", "domain:spam.example"
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class SourceCount:
    """A reported source, for `reports stats`."""

    kind: SourceKind
    value: str
    reporters: int  # distinct reporters since the `since` asked for
    last: float  # the newest of their reports

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"


class SourcesPort(Protocol):
    """Each operation is atomic in itself, across processes sharing the store."""

    async def count_report(self, kind: SourceKind, value: str, reporter: str, now: float,
                           window: float, threshold: int, expiry: float) -> BlockEntry | None:
        """Record that `reporter` reported this source at `now`; in the same transaction, when
        distinct reporters within the window reach `threshold`, list (or renew) it. The entry
        when the source is listed after this call, else None (an entry listed earlier and not
        expired at `now` is returned as it is when this report did not reach the threshold).

        ValueError for threshold < 1, window <= 0 or > COUNT_KEEP_SECONDS, expiry <= 0."""

    async def blocked(self, sources: Sequence[tuple[SourceKind, str]], now: float) -> list[BlockEntry]:
        """The entries of those sources listed and not expired at `now`."""

    async def blocklist(self, now: float) -> list[BlockEntry]:
        """Every entry not expired at `now`, newest first."""

    async def remove_block(self, kind: SourceKind, value: str) -> bool:
        """True if there was such an entry (expired or not, until purged). Its counted reports go
        too, whether there was an entry or not: the source starts afresh."""

    async def reported_sources(self, since: float, limit: int = 10) -> list[SourceCount]:
        """The sources with the most distinct reporters whose newest report is at or after
        `since` (at most COUNT_KEEP_SECONDS back), most first (ties: newest first)."""

    async def purge_sources(self, now: float | None = None) -> int:
        """Drop the counted reports older than COUNT_KEEP_SECONDS and the entries expired at
        `now`; the number of rows dropped. `now` defaults to the current time."""
