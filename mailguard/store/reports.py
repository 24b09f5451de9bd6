"""The reports port: each report users sent to the abuse addresses, and the steps taken for it.

Reports are kept `[store] history_days` (Decree 91/2020 Art. 10: 180 days), counted from
`received`; `purge_reports` drops older ones (where the history purge runs)."""
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


# The step a report gets when its original was learnt ("learnt spam" / "learnt ham"):
# `report_stats` counts the learnt reports by the steps that are exactly this.
LEARNT_STEP = "learnt {kind}"


@dataclass(frozen=True)
class ReportStats:
    """What `report_stats` found among the reports received since its `since`."""

    total: int
    by_kind: dict[str, int]  # "spam" / "ham" → reports (both keys always present)
    learnt: dict[str, int]  # "spam" / "ham" → reports with the step LEARNT_STEP of that kind
    by_status: dict[str, int]  # status → reports
    top_reporters: tuple[tuple[str, int], ...]  # (reporter, reports), most first (ties: by name)


class ReportsPort(Protocol):
    """Each operation is atomic in itself; reports and their steps are durable (committed and
    synced) on return, as quarantine entries are."""

    async def add_report(self, record: ReportRecord) -> None:
        """Store it under record.id (durably), with its steps; `base.DuplicateId` when the id is
        taken (the stored report stays as it was)."""

    async def delete_report(self, report_id: str) -> bool:
        """Forget a report and its steps (one relayed with `deliver_reports` that the downstream
        refused: the client sends it again). True if there was one."""

    async def add_report_step(self, report_id: str, step: str) -> None:
        """Append a step to the report's record (durably); StoreError when there is no such report."""

    async def reports(self, since: float | None = None, limit: int = 1000) -> list[ReportRecord]:
        """Reports with received >= since, newest first, with their steps, without raw (b"")."""

    async def report(self, report_id: str) -> ReportRecord | None:
        """One report with its steps and raw bytes."""

    async def reports_by(self, reporter: str, since: float) -> int:
        """How many reports `reporter` sent with received >= since (the per-reporter rate limit)."""

    async def report_stats(self, since: float | None = None, top: int = 10) -> ReportStats:
        """Counts over the reports with received >= since (all kept ones when None); at most
        `top` reporters."""

    async def purge_reports(self, now: float | None = None) -> int:
        """Drop the reports received before now - history_days (and their steps); the number
        dropped. `now` defaults to the current time."""
