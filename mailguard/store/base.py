"""The narrow interface every store backend keeps (SQLite now; a shared server backend later).

Each operation is atomic in itself: callers never read-then-write. Quarantine writes are
durable when `quarantine()` returns; the session answers 250 only after that.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mailguard.store.records import MessageRecord, QuarantineEntry


class StoreError(Exception):
    """The store cannot do what was asked: unusable file, newer schema, I/O failure."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def quarantine(self, entry: QuarantineEntry) -> None:
        """Store the entry durably (fsync'd) under entry.record.queue_id.

        If the calling task is cancelled, whether the entry was stored is unknown: callers
        answer the client 4xx in that case (a retry may then duplicate, never lose).
        """

    async def quarantine_list(self, limit: int = 100) -> list[MessageRecord]:
        """Newest first."""

    async def quarantine_get(self, queue_id: str) -> QuarantineEntry | None: ...

    async def quarantine_delete(self, queue_id: str) -> bool:
        """True if there was such an entry."""

    async def record_history(self, record: MessageRecord) -> None: ...

    async def history(self, since: float | None = None, limit: int = 1000) -> list[MessageRecord]:
        """Rows with time >= since, newest first."""

    async def purge_history(self, now: float | None = None) -> int:
        """Drop the day partitions older than history_days; the number of rows dropped."""

    async def learned_labels(self, digests: Sequence[str]) -> dict[str, str]:
        """The label ("spam" / "ham") each digest was learnt with (Bayes); unknown ones absent."""

    async def set_learned(self, changes: Mapping[str, str | None], now: float | None = None) -> None:
        """Record digests as learnt with a label, or as no longer learnt (None); one transaction."""
