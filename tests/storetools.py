"""Helpers for the store tests."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def statements(store) -> Iterator[list[str]]:
    """Every SQL statement a SqliteStore sends while the block runs (to see what a write commits
    with: durable writes go between PRAGMA synchronous = FULL and = NORMAL)."""
    seen: list[str] = []
    db = store._db
    real = db.execute

    async def spy(sql, *args, **kw):
        seen.append(sql)
        return await real(sql, *args, **kw)

    db.execute = spy
    try:
        yield seen
    finally:
        db.execute = real
