"""The outbox port: mail mailguard itself sends (ARF reports onward, acknowledgements to
reporters), kept durably until the relay accepted it, retried with backoff on 4xx, each attempt
recorded. Nothing is lost when the relay is down or mailguard restarts.

The sender is mailguard/reports/outbox_worker.py: it `claim`s a due item (so two workers, in one
process or two, never send it at once), tries it, and records the attempt. An item ends "sent"
or "failed"; those are kept `[store] history_days` after their last attempt, then
`purge_outbox` drops them. Queued items are never purged (the worker fails them in the end)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

State = Literal["queued", "sent", "failed"]


@dataclass(frozen=True)
class OutboxItem:
    id: str
    sender: str  # envelope sender ("" for the null sender)
    rcpts: tuple[str, ...]
    raw: bytes = field(repr=False)
    created: float = 0.0
    next_try: float = 0.0  # not before this time
    tries: int = 0
    state: State = "queued"
    last_reply: str = ""
    purpose: str = ""  # "arf", "ack", "digest": for the operator
    last_try: float | None = None  # when the last attempt was recorded; None before the first


class OutboxPort(Protocol):
    """Each operation is atomic in itself; enqueue, claim and record_attempt are durable
    (committed and synced) on return."""

    async def enqueue(self, item: OutboxItem) -> None:
        """Durable on return (fsync'd). The item is stored as given (normally state "queued",
        tries 0; next_try 0 is due at once), except that `created` 0 (the default) is stored as
        the current time: the worker gives up on an item by its age. `base.DuplicateId` when
        its id is taken (the stored item stays as it was)."""

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Queued items whose next_try <= now, oldest (created) first, with their raw bytes."""

    async def claim(self, item_id: str, now: float, until: float) -> bool:
        """Take a due item for one attempt: when it is queued and next_try <= now, its next_try
        becomes `until` and True is returned; False when it is not (another worker took it, or
        it was sent or failed meanwhile). A worker that dies mid-attempt leaves the item to be
        tried again at `until`."""

    async def record_attempt(self, item_id: str, reply: str, now: float, next_try: float | None,
                             sent: bool) -> None:
        """One attempt: sent (2xx: done), or failed for good (5xx: next_try None, state failed),
        or to retry at next_try (4xx, no connection). tries + 1, last_reply = reply, last_try =
        now. An item no longer queued is left as it is (its attempt was recorded already)."""

    async def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Newest first, without raw."""

    async def purge_outbox(self, now: float | None = None) -> int:
        """Drop the sent and failed items whose last attempt is older than history_days; the
        number dropped. `now` defaults to the current time."""
