"""The outbox port: mail mailguard itself sends (ARF reports onward, acknowledgements to
reporters), kept durably until the relay accepted it, retried with backoff on 4xx, each attempt
recorded. Nothing is lost when the relay is down or mailguard restarts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True)
class OutboxItem:
    id: str
    sender: str  # envelope sender ("" for the null sender)
    rcpts: tuple[str, ...]
    raw: bytes = field(repr=False)
    created: float = 0.0
    next_try: float = 0.0  # not before this time
    tries: int = 0
    state: Literal["queued", "sent", "failed"] = "queued"
    last_reply: str = ""
    purpose: str = ""  # "arf", "ack", "digest": for the operator


class OutboxPort(Protocol):
    """Each operation is atomic in itself."""

    async def enqueue(self, item: OutboxItem) -> None:
        """Durable on return (fsync'd)."""

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Queued items whose next_try <= now, oldest first."""

    async def record_attempt(self, item_id: str, reply: str, now: float, next_try: float | None,
                             sent: bool) -> None:
        """One attempt: sent (2xx: done), or failed for good (5xx: next_try None, state failed),
        or to retry at next_try (4xx, no connection)."""

    async def outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Newest first, without raw."""
