"""The history port: one row per message seen and per refusal, kept for `[store] history_days`."""
from __future__ import annotations

from typing import Protocol

from mailguard.store.records import MessageRecord


class HistoryPort(Protocol):
    """Each operation is atomic in itself; callers never read-then-write. Rows need not be
    durable at return (a crash may lose the last few), unlike quarantine entries."""

    async def record_history(self, record: MessageRecord) -> None:
        """Add one row; several rows may share a queue_id."""

    async def history(self, since: float | None = None, limit: int = 1000, *, sender: str | None = None,
                      queue_id: str | None = None) -> list[MessageRecord]:
        """Rows with time >= since, newest first; only those of envelope sender `sender` and of
        id `queue_id` when given (both compared without case; "" is the null sender)."""

    async def purge_history(self, now: float | None = None) -> int:
        """Drop the day partitions older than history_days; the number of rows dropped."""
