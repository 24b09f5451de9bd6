"""The quarantine port: messages stopped by their verdict, kept whole until released or deleted,
or until they are `[store] quarantine_days` old (`purge_quarantine`, run daily by `serve`)."""
from __future__ import annotations

from typing import Protocol

from mailguard.store.records import MessageRecord, QuarantineEntry


class QuarantinePort(Protocol):
    """Each operation is atomic in itself; callers never read-then-write."""

    async def quarantine(self, entry: QuarantineEntry) -> None:
        """Store the entry under entry.record.queue_id, durably (fsync'd) before returning.

        Never replaces an entry: when the id is taken, raises `base.DuplicateId` and leaves the
        stored entry as it was; the caller picks a new id and calls again. If the calling task
        is cancelled, whether the entry was stored is unknown: callers answer the client 4xx in
        that case (a retry may then duplicate, never lose).
        """

    async def quarantine_list(self, limit: int = 100, since: float | None = None,
                              until: float | None = None) -> list[MessageRecord]:
        """Newest first; with `since` / `until`, those quarantined at since <= time < until."""

    async def quarantine_get(self, queue_id: str) -> QuarantineEntry | None: ...

    async def quarantine_delete(self, queue_id: str) -> bool:
        """True if there was such an entry."""

    async def purge_quarantine(self, now: float | None = None) -> int:
        """Drop the entries quarantined more than quarantine_days before `now` (default: the
        current time); the number dropped."""

    async def quarantine_size(self) -> tuple[int, int]:
        """(entries, bytes of their messages) held now."""
