"""The values the store keeps: quarantine entries and history rows."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SymbolRecord:
    name: str
    score: float
    detail: str = ""


@dataclass(frozen=True)
class MessageRecord:
    """What we know of one message that went through (or was stopped by) mailguard.

    One of these is the history row of every message; a quarantine entry is one of these plus
    the raw bytes.
    """

    queue_id: str
    time: float  # seconds since the epoch, when the message's DATA ended
    client_ip: str | None
    client_name: str | None
    helo: str | None
    mail_from: str
    rcpts: tuple[str, ...]
    message_id: str
    subject: str
    from_header: str
    action: str  # one of the six action strings
    score: float
    required: float
    symbols: tuple[SymbolRecord, ...]
    headers: str  # the message's full header block, as received (decoded as UTF-8 with replacement)
    size: int = 0
    outcome: str = ""  # what happened: e.g. "250 2.0.0 Ok: queued as 4Xyz", "quarantined", "550 5.7.1 ..."


@dataclass(frozen=True)
class QuarantineEntry:
    record: MessageRecord
    raw: bytes = field(repr=False)  # as received
    added_headers: tuple[str, ...] = ()  # for release: our Received (front mode) and the scan's Authentication-Results
