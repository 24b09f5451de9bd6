"""The repeat-sources port: reports counted per source, and the local block list they feed.

A source is (kind, value): kind "address" (a sender address), "domain" (an authenticated sender
domain), "ip" (a client address), "link" (a link's registered domain). A source is listed when
`threshold` *distinct* reporters reported it within `window` seconds; the entry expires after
`expiry` seconds (a later report past the threshold renews it)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

SourceKind = Literal["address", "domain", "ip", "link"]


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


class SourcesPort(Protocol):
    """Each operation is atomic in itself, across processes sharing the store."""

    async def count_report(self, kind: SourceKind, value: str, reporter: str, now: float,
                           window: float, threshold: int, expiry: float) -> BlockEntry | None:
        """Record that `reporter` reported this source at `now`; in the same transaction, when
        distinct reporters within the window reach `threshold`, list (or renew) it. The entry
        when the source is listed after this call, else None."""

    async def blocked(self, sources: Sequence[tuple[SourceKind, str]], now: float) -> list[BlockEntry]:
        """The entries of those sources listed and not expired at `now`."""

    async def blocklist(self, now: float) -> list[BlockEntry]:
        """Every entry not expired at `now`, newest first."""

    async def remove_block(self, kind: SourceKind, value: str) -> bool:
        """True if there was such an entry (its counted reports go too: it starts afresh)."""
