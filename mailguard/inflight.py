"""Message bytes in flight: what all sessions hold at once, against `[server] max_bytes_in_flight`
(over it `452 4.3.1`), and one message's buffer under that budget and its size limit.

Both front ends read a message into a `MessageBuffer`: the SMTP session's DATA, line by line,
and the milter's HEADER/BODY events. A refused message keeps nothing more and gives its bytes
back at once; the session goes on reading (SMTP must reach the dot) and answers the refusal."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailguard.smtp.replies import Reply

OVER_BUDGET = Reply(452, "4.3.1 Insufficient system resources, try again later")


class Budget:
    """The bytes all sessions of a server hold; `on_empty` runs when the last are given back
    (the server trims the heap there, after a burst)."""

    def __init__(self, limit: int = 1 << 62, on_empty: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.held = 0
        self._on_empty = on_empty

    def full(self) -> bool:
        return self.held >= self.limit

    def has_room(self, n: int) -> bool:
        return self.held + n <= self.limit

    def take(self, n: int) -> bool:
        """Count n more bytes, if the budget has room for them."""
        if not self.has_room(n):
            return False
        self.held += n
        return True

    def give_back(self, n: int) -> None:
        if not n:
            return
        self.held -= n
        if not self.held and self._on_empty is not None:
            self._on_empty()


def size_refusal(limit: int) -> Reply:
    return Reply(552, f"5.3.4 Error: message size exceeds fixed limit of {limit} bytes")


@dataclass
class MessageBuffer:
    """One message as it is read, its bytes counted in `budget` until release()."""

    budget: Budget
    limit: int = 0  # the message size limit in bytes; 0: none
    raw: bytearray = field(default_factory=bytearray)
    held: int = 0  # bytes counted in the budget
    size: int = 0  # bytes offered, kept or not
    refusal: Reply | None = None  # once set, nothing more is kept

    def add(self, piece: bytes, refuse: Reply | None = None) -> Reply | None:
        """Keep `piece`; or the refusal, first for the size limit, then the caller's `refuse`
        (a line too long, say), then the budget."""
        self.size += len(piece)
        if self.refusal is None:
            if self.limit and self.size > self.limit:
                self.refusal = size_refusal(self.limit)
            elif refuse is not None:
                self.refusal = refuse
            elif not self.budget.take(len(piece)):
                self.refusal = OVER_BUDGET
            else:
                self.held += len(piece)
                self.raw += piece
                return None
            self.release()
        return self.refusal

    def contents(self) -> bytes:
        """The message read. The buffer lets go of its copy but keeps the bytes counted in the
        budget, until release(): the message is still held while it is scanned and relayed."""
        out, self.raw = bytes(self.raw), bytearray()
        return out

    def release(self) -> None:
        """Nothing kept any more; its bytes are back in the budget."""
        self.budget.give_back(self.held)
        self.held = 0
        self.raw = bytearray()
