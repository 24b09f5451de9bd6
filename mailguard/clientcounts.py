"""Open connections per counter key (a client address, its network, all clients): the numbers
the connection limits ([server] max_connections, max_connections_per_ip, _per_net) compare.

One process counts in a dict. Worker processes count in one shared-memory table that the
supervisor creates before it forks them: a row per worker, a fixed number of slots per row, a
key's slot chosen by a stable hash. A worker only ever writes its own row (no lock needed), a
count is the sum of the key's slot over all rows, and the supervisor zeroes the row of a worker
that died (a killed process cannot give its connections back). Memory is bounded (ROW_SLOTS per
worker); two keys sharing a slot count together, which can only make a limit stricter, never
looser, and with 65536 slots that is rare at any realistic number of clients.
"""
from __future__ import annotations

import collections
import ctypes
import multiprocessing.sharedctypes
import zlib
from dataclasses import dataclass, field
from typing import Protocol

ROW_SLOTS = 65536


class ClientCounts(Protocol):
    def add(self, key: str, delta: int) -> None: ...

    def count(self, key: str) -> int: ...


@dataclass
class LocalCounts:
    """The counts of one process."""

    _counts: collections.Counter = field(default_factory=collections.Counter)

    def add(self, key: str, delta: int) -> None:
        self._counts[key] += delta
        if not self._counts[key]:
            del self._counts[key]

    def count(self, key: str) -> int:
        return self._counts[key]


@dataclass
class SharedTable:
    """The table of all workers (created by the supervisor, inherited through fork)."""

    workers: int
    cells: ctypes.Array

    @classmethod
    def create(cls, workers: int) -> SharedTable:
        return cls(workers, multiprocessing.sharedctypes.RawArray(ctypes.c_int32, workers * ROW_SLOTS))

    def for_worker(self, worker: int) -> SharedCounts:
        return SharedCounts(self, worker)

    def clear(self, worker: int) -> None:
        """The row of a worker that ended: its connections are gone with it."""
        ctypes.memset(ctypes.addressof(self.cells) + worker * ROW_SLOTS * 4, 0, ROW_SLOTS * 4)


@dataclass
class SharedCounts:
    """One worker's view: writes to its row, counts over all rows."""

    table: SharedTable
    worker: int

    def add(self, key: str, delta: int) -> None:
        self.table.cells[self.worker * ROW_SLOTS + _slot(key)] += delta

    def count(self, key: str) -> int:
        slot, cells = _slot(key), self.table.cells
        return sum(cells[w * ROW_SLOTS + slot] for w in range(self.table.workers))


def _slot(key: str) -> int:
    return zlib.crc32(key.encode()) % ROW_SLOTS
