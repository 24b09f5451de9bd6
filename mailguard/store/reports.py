"""The reports port: each report users sent to the abuse addresses, and the steps taken for it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["spam", "ham"]


@dataclass(frozen=True)
class ReportRecord:
    id: str  # ours, unique (never reused)
    received: float  # epoch seconds
    reporter: str  # mailbox key of the local user who reported
    kind: Kind
    sender: str  # the original's From address ("" when unknown)
    client_ip: str | None  # the original's client, first hop outside the reporter's provider
    subject: str
    message_id: str
    status: str  # "done", "unparsed" (kept as received, reporter told), "refused", ...
    shape: str = ""  # "attached", "inline", "arf", "" when unparsed
    steps: tuple[str, ...] = ()  # what was done, in order ("learnt spam", "counted ip=...", ...)
    raw: bytes = field(default=b"", repr=False)  # the report as received (the original within it)


class ReportsPort(Protocol):
    """Each operation is atomic in itself."""

    async def add_report(self, record: ReportRecord) -> None:
        """Store it under record.id (durably); DuplicateId when the id is taken."""

    async def add_report_step(self, report_id: str, step: str) -> None:
        """Append a step to the report's record."""

    async def reports(self, since: float | None = None, limit: int = 1000) -> list[ReportRecord]:
        """Newest first, without raw."""

    async def report(self, report_id: str) -> ReportRecord | None:
        """One report with its raw bytes."""

    async def reports_by(self, reporter: str, since: float) -> int:
        """How many reports `reporter` sent since `since` (the per-reporter rate limit)."""
