"""What every store backend is (SQLite now; a shared server backend later), and its errors.

A backend implements every port (quarantine.py, history.py, learned.py, ledger.py, refusals.py,
reports.py, sources.py, outbox.py) plus its lifecycle;
`backends.open(config)` returns one opened. Code that uses state types against the port it uses.
"""
from __future__ import annotations

from typing import Protocol

from mailguard.store.history import HistoryPort
from mailguard.store.learned import LearnedPort
from mailguard.store.ledger import LedgerPort
from mailguard.store.quarantine import QuarantinePort
from mailguard.store.outbox import OutboxPort
from mailguard.store.refusals import RefusalsPort
from mailguard.store.reports import ReportsPort
from mailguard.store.sources import SourcesPort


class StoreError(Exception):
    """The store cannot do what was asked: unusable file, newer schema, I/O failure."""


class DuplicateId(StoreError):
    """An entry with this id (quarantine, report, outbox item) is stored already (and was left
    as it was); `queue_id` is the id."""

    def __init__(self, message: str, queue_id: str) -> None:
        super().__init__(message)
        self.queue_id = queue_id


class Store(QuarantinePort, HistoryPort, LearnedPort, LedgerPort, RefusalsPort, ReportsPort, SourcesPort,
            OutboxPort, Protocol):
    async def close(self) -> None: ...
