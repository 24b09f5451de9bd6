"""The embedded store backend: one SQLite file (by default in the state directory), used through
aiosqlite. It implements every port (see base.py); `backends.open` makes it.

Every public operation takes the store's lock and runs in one transaction of its own, so several
asyncio tasks can share one store object, and BEGIN IMMEDIATE plus busy_timeout keep several
processes on one file correct too.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sqlite3
import time as _time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from mailguard.store.migrations import (
    APPLICATION_ID,
    HISTORY_TABLE_GLOB,
    MIGRATIONS,
    SCHEMA_VERSION,
    history_day,
    history_table,
    history_table_ddl,
)
from mailguard.store.base import DuplicateId, StoreError
from mailguard.store.ledger import PENDING_SECONDS, WINDOW_SECONDS, LedgerEntry, Slot
from mailguard.store.records import MessageRecord, QuarantineEntry, SymbolRecord
from mailguard.store.outbox import OutboxItem
from mailguard.store.refusals import UNSUBSCRIBE_DAYS, Refusal
from mailguard.store.reports import LEARNT_STEP, ReportRecord, ReportStats
from mailguard.store.sources import COUNT_KEEP_SECONDS, BlockEntry, SourceCount, SourceKind

BUSY_TIMEOUT_MS = 5000
# WAL files are reused, not shrunk: without a limit one 40 MB quarantined message would leave a
# 40 MB -wal file behind for good.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
_DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_COLUMNS = (
    "queue_id", "time", "client_ip", "client_name", "helo", "mail_from", "rcpts", "message_id",
    "subject", "from_header", "action", "score", "required", "symbols", "headers", "size", "outcome",
)
_SELECT_COLUMNS = ", ".join(_COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in _COLUMNS)
_REPORT_COLUMNS = ("id, received, reporter, kind, sender, client_ip, subject, message_id, status, shape")
_OUTBOX_COLUMNS = "id, sender, rcpts, created, next_try, tries, state, last_reply, purpose, last_try"
_MAX_PARAMS = 500  # host parameters per statement, well below SQLite's bound

# A ledger slot that counts at `now`: in the window (half-open: exactly WINDOW_SECONDS old no
# longer counts), and confirmed or a pending one younger than PENDING_SECONDS. Parameters:
# now - WINDOW_SECONDS, now - PENDING_SECONDS.
_SLOT_COUNTS = "at > ? AND (state = 'confirmed' OR at > ?)"


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorname", "") in (
        "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT", "SQLITE_BUSY_RECOVERY")


class SqliteStore:
    def __init__(self, path: Path, history_days: int = 180, quarantine_days: int = 30) -> None:
        """`path` is the database file; its folder is created when missing."""
        if history_days < 1 or quarantine_days < 1:
            raise ValueError(f"history_days and quarantine_days must be at least 1, not {history_days}, "
                             f"{quarantine_days}")
        self.path = Path(path)
        self.history_days = history_days
        self.quarantine_days = quarantine_days
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- opening and closing ------------------------------------------------------------------

    async def open(self) -> None:
        async with self._lock:
            if self._db is not None:
                return
            try:
                await asyncio.to_thread(self._create_files)
            except OSError as exc:
                where = exc.filename or self.path
                raise StoreError(f"{where}: cannot create the store: {exc.strerror or exc}") from exc
            # Two processes opening one new file at once can meet in a lock SQLite does not wait
            # for (switching to WAL, or two migrations each upgrading a read to a write): the
            # whole open is tried again, for as long as a busy wait would last.
            deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
            pause = 0.02
            while True:
                db: aiosqlite.Connection | None = None
                try:
                    db = await aiosqlite.connect(self.path, isolation_level=None)
                    await self._configure(db)
                    await self._migrate(db)
                    break
                except BaseException as exc:
                    if db is not None:
                        with contextlib.suppress(Exception):
                            await db.close()
                    if _is_busy(exc) and asyncio.get_running_loop().time() + pause < deadline:
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 0.5)
                        continue
                    if isinstance(exc, sqlite3.Error):
                        raise StoreError(self._open_failure(exc)) from exc
                    raise
            self._db = db

    async def close(self) -> None:
        async with self._lock:
            db, self._db = self._db, None
            if db is not None:
                with self._failing("closing"):
                    await db.close()

    def _create_files(self) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        # Created here rather than by SQLite so it is not world-readable (quarantined mail); SQLite
        # gives the -wal and -shm files the mode of the database file.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        except FileExistsError:
            return
        os.close(fd)
        # Make the new directory entry durable too, or a crash could lose the whole file.
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _open_failure(self, exc: sqlite3.Error) -> str:
        if getattr(exc, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return f"{self.path}: not a usable SQLite database (corrupt or another kind of file): {exc}"
        return f"{self.path}: cannot open the store: {exc}"

    async def _configure(self, db: aiosqlite.Connection) -> None:
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        (mode,) = (await db.execute_fetchall("PRAGMA journal_mode = WAL"))[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch the database to WAL mode (it stays in {mode!r})")
        # In WAL mode NORMAL keeps the database consistent across a crash but may lose the last
        # commits; that is fine for history rows. Quarantine commits switch to FULL (see quarantine()).
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        await db.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        # One step per transaction; the version is re-read inside each, as another process may be
        # migrating the same file at the same time.
        while True:
            async with _tx(db, write=True):
                app_id = await _pragma_int(db, "application_id")
                version = await _pragma_int(db, "user_version")
                if app_id == 0 and version == 0:
                    (objects,) = (await db.execute_fetchall("SELECT count(*) FROM sqlite_master"))[0]
                    if objects:
                        raise StoreError(f"{self.path}: a SQLite database, but not a mailguard store "
                                         f"(it has {objects} schema objects and no mailguard schema)")
                elif app_id != APPLICATION_ID:
                    raise StoreError(f"{self.path}: a SQLite database, but not a mailguard store "
                                     f"(application_id {app_id:#x})")
                if version > SCHEMA_VERSION:
                    raise StoreError(f"{self.path}: the store has schema version {version}, newer than "
                                     f"this mailguard knows ({SCHEMA_VERSION}); run a newer mailguard")
                if version == SCHEMA_VERSION:
                    return
                await MIGRATIONS[version](db)
                await db.execute(f"PRAGMA user_version = {version + 1}")

    # --- plumbing -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(
        self, *, write: bool, durable: bool = False
    ) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            if self._db is None:
                raise StoreError(f"{self.path}: the store is not open")
            async with _tx(self._db, write=write, durable=durable):
                yield self._db

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {doing}: {exc}") from exc

    async def _insert_new(self, db, table: str, columns: str, key: str, row: tuple, what: str, ident: str) -> None:
        """Insert a row under an id that must be new: an id is never overwritten (DuplicateId,
        the stored row kept; the caller picks another id)."""
        cursor = await db.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in row)}) "
                                  f"ON CONFLICT ({key}) DO NOTHING", row)
        if cursor.rowcount == 0:
            raise DuplicateId(f"{self.path}: {what} is stored already; it was kept, pick a new id", ident)

    # --- quarantine ---------------------------------------------------------------------------

    async def quarantine(self, entry: QuarantineEntry) -> None:
        """Store the entry under its queue_id, durable on return; DuplicateId if the id is taken
        (the stored entry stays as it was)."""
        queue_id = entry.record.queue_id
        row = (*_record_row(entry.record), bytes(entry.raw),
               _text(json.dumps(list(entry.added_headers), ensure_ascii=False)))
        with self._failing(f"quarantining {queue_id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                await self._insert_new(db, "quarantine", f"{_SELECT_COLUMNS}, raw, added_headers", "queue_id", row,
                                       f"a quarantine entry {queue_id!r}", queue_id)

    async def quarantine_list(self, limit: int = 100, since: float | None = None,
                              until: float | None = None) -> list[MessageRecord]:
        """Newest first; with `since` / `until`, those quarantined at since <= time < until."""
        if limit <= 0:  # SQLite reads a negative LIMIT as "no limit"
            return []
        with self._failing("listing the quarantine"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_SELECT_COLUMNS} FROM quarantine WHERE time >= ? AND time < ? "
                    "ORDER BY time DESC, rowid DESC LIMIT ?",
                    (-math.inf if since is None else since, math.inf if until is None else until, limit),
                )
        return [self._record(row) for row in rows]

    async def quarantine_get(self, queue_id: str) -> QuarantineEntry | None:
        with self._failing(f"reading quarantined {queue_id!r}"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_SELECT_COLUMNS}, raw, added_headers FROM quarantine WHERE queue_id = ?",
                    (queue_id,),
                )
        if not rows:
            return None
        *fields, raw, added_headers = rows[0]
        return QuarantineEntry(record=self._record(fields), raw=bytes(raw),
                               added_headers=tuple(json.loads(added_headers)))

    async def quarantine_delete(self, queue_id: str) -> bool:
        """True if there was such an entry."""
        with self._failing(f"deleting quarantined {queue_id!r}"):
            async with self._transaction(write=True) as db:
                cursor = await db.execute("DELETE FROM quarantine WHERE queue_id = ?", (queue_id,))
                return cursor.rowcount > 0

    async def purge_quarantine(self, now: float | None = None) -> int:
        """Drop the entries quarantined before now - quarantine_days; the number dropped."""
        cutoff = (_time.time() if now is None else now) - self.quarantine_days * _DAY
        with self._failing("purging the quarantine"):
            async with self._transaction(write=True) as db:
                cursor = await db.execute("DELETE FROM quarantine WHERE time < ?", (cutoff,))
                return cursor.rowcount

    async def quarantine_size(self) -> tuple[int, int]:
        """(entries, bytes of their messages) held now; length() of a BLOB reads no content."""
        with self._failing("counting the quarantine"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall("SELECT count(*), coalesce(sum(length(raw)), 0) FROM quarantine")
        return int(rows[0][0]), int(rows[0][1])

    # --- history ------------------------------------------------------------------------------

    async def record_history(self, record: MessageRecord) -> None:
        """Add the record to the table of its UTC day (created on first use)."""
        day = _day_of(record.time)
        row = _record_row(record)
        with self._failing(f"recording history of {record.queue_id!r}"):
            async with self._transaction(write=True) as db:
                for statement in history_table_ddl(day):
                    await db.execute(statement)
                await db.execute(
                    f'INSERT INTO "{history_table(day)}" ({_SELECT_COLUMNS}) VALUES ({_PLACEHOLDERS})', row
                )

    async def history(self, since: float | None = None, limit: int = 1000, *, sender: str | None = None,
                      queue_id: str | None = None) -> list[MessageRecord]:
        """Rows with time >= since (and of that envelope sender / that id, both without case),
        newest first.

        Day tables hold disjoint time ranges, so reading them one by one, newest day first, gives
        the same order as one UNION ALL would, stops as soon as `limit` rows are in, and has no
        bound on the number of days (SQLite allows at most 500 terms in a compound SELECT).
        """
        if limit <= 0:
            return []
        first_day = None if since is None else _day_of(since)
        wanted = (("time >= ?", since), ("mail_from = ? COLLATE NOCASE", sender), ("queue_id = ? COLLATE NOCASE", queue_id))
        conditions = [(test, value) for test, value in wanted if value is not None]
        where = ("WHERE " + " AND ".join(c for c, _ in conditions)) if conditions else ""
        found: list[MessageRecord] = []
        with self._failing("reading history"):
            async with self._transaction(write=False) as db:
                for day in await _history_days(db):
                    if first_day is not None and day < first_day:
                        break
                    left = limit - len(found)
                    params: tuple[Any, ...] = (*(v for _, v in conditions), left)
                    rows = await db.execute_fetchall(
                        f'SELECT {_SELECT_COLUMNS} FROM "{history_table(day)}" {where} '
                        f"ORDER BY time DESC, id DESC LIMIT ?",
                        params,
                    )
                    found.extend(self._record(row) for row in rows)
                    if len(found) >= limit:
                        break
        return found

    async def purge_history(self, now: float | None = None) -> int:
        """Drop the tables of the days that ended before now - history_days; the rows dropped."""
        cutoff = (_time.time() if now is None else now) - self.history_days * _DAY
        # A day is dropped only when all of it is older than the cutoff: every day before the
        # cutoff's own day.
        keep_from = _day_of(cutoff)
        dropped = 0
        with self._failing("purging history"):
            async with self._transaction(write=True) as db:
                for day in await _history_days(db):
                    if day >= keep_from:
                        continue
                    table = history_table(day)
                    (count,) = (await db.execute_fetchall(f'SELECT count(*) FROM "{table}"'))[0]
                    await db.execute(f'DROP TABLE "{table}"')
                    dropped += count
        return dropped

    # --- learnt messages (Bayes) ---------------------------------------------------------------

    async def learned_labels(self, digests: Sequence[str]) -> dict[str, str]:
        """The label ("spam" / "ham") each of these digests was learnt with; unknown ones absent."""
        found: dict[str, str] = {}
        with self._failing("reading learnt messages"):
            async with self._transaction(write=False) as db:
                for start in range(0, len(digests), 500):  # SQLite's bound on host parameters
                    chunk = list(digests[start:start + 500])
                    rows = await db.execute_fetchall(
                        f"SELECT digest, label FROM learned WHERE digest IN ({', '.join('?' for _ in chunk)})", chunk)
                    found.update((d, label) for d, label in rows)
        return found

    async def set_learned(self, changes: Mapping[str, str | None], now: float | None = None) -> None:
        """Record each digest as learnt with its label, or as not learnt (None), in one transaction."""
        t = _time.time() if now is None else now
        with self._failing("recording learnt messages"):
            async with self._transaction(write=True) as db:
                await db.executemany("DELETE FROM learned WHERE digest = ?",
                                     [(d,) for d, label in changes.items() if label is None])
                await db.executemany("INSERT OR REPLACE INTO learned (digest, label, learnt_at) VALUES (?, ?, ?)",
                                     [(d, label, t) for d, label in changes.items() if label is not None])

    # --- advertising ledger (ledger.py) -------------------------------------------------------

    async def reserve(self, advertiser: str, limits: Mapping[str, int | None], now: float) -> list[Slot]:
        """One BEGIN IMMEDIATE transaction: the write lock is taken before the first count, so two
        processes reserving for one recipient are serialised and cannot both take its last slot."""
        bounds = (now - WINDOW_SECONDS, now - PENDING_SECONDS)
        slots: list[Slot] = []
        with self._failing(f"reserving advertising slots of {advertiser!r}"):
            async with self._transaction(write=True) as db:
                for recipient, limit in limits.items():
                    (count,) = (await db.execute_fetchall(
                        f"SELECT count(*) FROM ad_ledger WHERE recipient = ? AND advertiser = ? AND {_SLOT_COUNTS}",
                        (_text(recipient), _text(advertiser), *bounds)))[0]
                    if limit is not None and count >= limit:
                        slots.append(Slot(recipient, granted=False, place=count + 1, limit=limit))
                        continue
                    cursor = await db.execute(
                        "INSERT INTO ad_ledger (advertiser, recipient, at, state) VALUES (?, ?, ?, 'pending')",
                        (_text(advertiser), _text(recipient), now))
                    slots.append(Slot(recipient, granted=True, place=count + 1, limit=limit, id=cursor.lastrowid))
        return slots

    async def confirm(self, ids: Sequence[int]) -> None:
        await self._by_ids("confirming advertising slots",
                           "UPDATE ad_ledger SET state = 'confirmed' WHERE state = 'pending' AND id IN ({})", ids)

    async def release(self, ids: Sequence[int]) -> None:
        await self._by_ids("releasing advertising slots",
                           "DELETE FROM ad_ledger WHERE state = 'pending' AND id IN ({})", ids)

    async def _by_ids(self, doing: str, statement: str, ids: Sequence[int]) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        with self._failing(doing):
            async with self._transaction(write=True) as db:
                for start in range(0, len(ids), _MAX_PARAMS):
                    chunk = ids[start:start + _MAX_PARAMS]
                    await db.execute(statement.format(", ".join("?" for _ in chunk)), chunk)

    async def ledger_entries(self, recipient: str, now: float) -> list[LedgerEntry]:
        with self._failing(f"reading the advertising ledger of {recipient!r}"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT advertiser, recipient, at, state FROM ad_ledger WHERE recipient = ? AND {_SLOT_COUNTS} "
                    f"ORDER BY at, id", (_text(recipient), now - WINDOW_SECONDS, now - PENDING_SECONDS))
        return [LedgerEntry(advertiser=a, recipient=r, at=t, state=state) for a, r, t, state in rows]

    async def purge_ledger(self, now: float | None = None) -> int:
        cutoff = (_time.time() if now is None else now) - (WINDOW_SECONDS + PENDING_SECONDS)
        with self._failing("purging the advertising ledger"):
            async with self._transaction(write=True) as db:
                cursor = await db.execute("DELETE FROM ad_ledger WHERE at < ?", (cutoff,))
                dropped = cursor.rowcount
                kept_from = cutoff + WINDOW_SECONDS + PENDING_SECONDS - UNSUBSCRIBE_DAYS * 86400
                cursor = await db.execute("DELETE FROM ad_unsubscribe WHERE at < ?", (kept_from,))
                return dropped + cursor.rowcount

    # --- refusals (refusals.py) ---------------------------------------------------------------

    async def remember_unsubscribe(self, address: str, recipient: str, advertiser: str, at: float) -> None:
        with self._failing(f"remembering the unsubscribe address {address!r}"):
            async with self._transaction(write=True) as db:
                await db.execute(
                    "INSERT INTO ad_unsubscribe (address, recipient, advertiser, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (address, recipient) DO UPDATE SET advertiser = excluded.advertiser, at = excluded.at",
                    (_text(address), _text(recipient), _text(advertiser), at))

    async def unsubscribe_advertiser(self, address: str, recipient: str) -> str | None:
        with self._failing(f"reading the unsubscribe address {address!r}"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    "SELECT advertiser FROM ad_unsubscribe WHERE address = ? AND recipient = ?",
                    (_text(address), _text(recipient)))
        return rows[0][0] if rows else None

    async def add_refusal(self, refusal: Refusal) -> bool:
        """Durable on return (synchronous=FULL for the commit, as quarantine writes)."""
        with self._failing(f"recording the refusal of {refusal.advertiser!r} by {refusal.recipient!r}"):
            async with self._transaction(write=True, durable=True) as db:
                cursor = await db.execute(
                    "INSERT INTO ad_refusals (recipient, advertiser, at, source) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (recipient, advertiser) DO NOTHING",
                    (_text(refusal.recipient), _text(refusal.advertiser), refusal.at, refusal.source))
                return cursor.rowcount > 0

    async def remove_refusal(self, recipient: str, advertiser: str) -> bool:
        with self._failing(f"removing the refusal of {advertiser!r} by {recipient!r}"):
            async with self._transaction(write=True, durable=True) as db:
                cursor = await db.execute("DELETE FROM ad_refusals WHERE recipient = ? AND advertiser = ?",
                                          (_text(recipient), _text(advertiser)))
                return cursor.rowcount > 0

    async def refused(self, recipient: str, advertisers: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(advertisers))
        found: set[str] = set()
        if not wanted:
            return found
        with self._failing(f"reading the refusals of {recipient!r}"):
            async with self._transaction(write=False) as db:
                for start in range(0, len(wanted), _MAX_PARAMS):
                    chunk = [_text(a) for a in wanted[start:start + _MAX_PARAMS]]
                    rows = await db.execute_fetchall(
                        f"SELECT advertiser FROM ad_refusals WHERE recipient = ? "
                        f"AND advertiser IN ({', '.join('?' for _ in chunk)})", (_text(recipient), *chunk))
                    found.update(a for (a,) in rows)
        return found

    async def refusals(self, recipient: str | None = None) -> list[Refusal]:
        where, params = ("WHERE recipient = ?", (_text(recipient),)) if recipient is not None else ("", ())
        with self._failing("listing refusals"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT recipient, advertiser, at, source FROM ad_refusals {where} ORDER BY at, rowid", params)
        return [Refusal(recipient=r, advertiser=a, at=t, source=src) for r, a, t, src in rows]

    # --- reports (reports.py) -----------------------------------------------------------------

    async def delete_report(self, report_id: str) -> bool:
        with self._failing(f"deleting report {report_id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                await db.execute("DELETE FROM report_steps WHERE report_id = ?", (_text(report_id),))
                cursor = await db.execute("DELETE FROM reports WHERE id = ?", (_text(report_id),))
                return cursor.rowcount > 0

    async def add_report(self, record: ReportRecord) -> None:
        """Durable on return (synchronous=FULL for the commit, as quarantine writes)."""
        row = (_text(record.id), record.received, _text(record.reporter), record.kind, _text(record.sender),
               _opt_text(record.client_ip), _text(record.subject), _text(record.message_id),
               _text(record.status), _text(record.shape), bytes(record.raw))
        with self._failing(f"storing report {record.id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                await self._insert_new(db, "reports", f"{_REPORT_COLUMNS}, raw", "id", row,
                                       f"a report {record.id!r}", record.id)
                await db.executemany("INSERT INTO report_steps (report_id, step) VALUES (?, ?)",
                                     [(_text(record.id), _text(step)) for step in record.steps])

    async def add_report_step(self, report_id: str, step: str) -> None:
        with self._failing(f"adding a step to report {report_id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                cursor = await db.execute(
                    "INSERT INTO report_steps (report_id, step) SELECT id, ? FROM reports WHERE id = ?",
                    (_text(step), _text(report_id)))
                if cursor.rowcount == 0:
                    raise StoreError(f"{self.path}: no report {report_id!r} to add the step {step!r} to")

    async def reports(self, since: float | None = None, limit: int = 1000) -> list[ReportRecord]:
        if limit <= 0:
            return []
        where, params = ("", ()) if since is None else ("WHERE received >= ?", (since,))
        with self._failing("listing reports"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_REPORT_COLUMNS} FROM reports {where} ORDER BY received DESC, rowid DESC LIMIT ?",
                    (*params, limit))
                steps = await _steps_of(db, [row[0] for row in rows])
        return [_row_report(row, steps.get(row[0], ())) for row in rows]

    async def report(self, report_id: str) -> ReportRecord | None:
        with self._failing(f"reading report {report_id!r}"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(f"SELECT {_REPORT_COLUMNS}, raw FROM reports WHERE id = ?",
                                                 (_text(report_id),))
                if not rows:
                    return None
                steps = await _steps_of(db, [rows[0][0]])
        *fields, raw = rows[0]
        return _row_report(fields, steps.get(fields[0], ()), bytes(raw))

    async def reports_by(self, reporter: str, since: float) -> int:
        with self._failing(f"counting the reports of {reporter!r}"):
            async with self._transaction(write=False) as db:
                (count,) = (await db.execute_fetchall(
                    "SELECT count(*) FROM reports WHERE reporter = ? AND received >= ?", (_text(reporter), since)))[0]
        return int(count)

    async def report_stats(self, since: float | None = None, top: int = 10) -> ReportStats:
        where, params = ("", ()) if since is None else ("WHERE received >= ?", (since,))
        with self._failing("counting reports"):
            async with self._transaction(write=False) as db:
                by_kind = dict(await db.execute_fetchall(
                    f"SELECT kind, count(*) FROM reports {where} GROUP BY kind", params))
                by_status = dict(await db.execute_fetchall(
                    f"SELECT status, count(*) FROM reports {where} GROUP BY status ORDER BY status", params))
                learnt = dict(await db.execute_fetchall(
                    f"SELECT kind, count(*) FROM reports {where} {'AND' if where else 'WHERE'} EXISTS "
                    "(SELECT 1 FROM report_steps s WHERE s.report_id = reports.id AND s.step = "
                    "CASE reports.kind WHEN 'spam' THEN ? ELSE ? END) GROUP BY kind",
                    (*params, LEARNT_STEP.format(kind="spam"), LEARNT_STEP.format(kind="ham"))))
                reporters = await db.execute_fetchall(
                    f"SELECT reporter, count(*) AS n FROM reports {where} GROUP BY reporter "
                    "ORDER BY n DESC, reporter LIMIT ?", (*params, max(top, 0)))
        kinds = ("spam", "ham")
        return ReportStats(total=sum(by_kind.values()), by_kind={k: by_kind.get(k, 0) for k in kinds},
                           learnt={k: learnt.get(k, 0) for k in kinds}, by_status=by_status,
                           top_reporters=tuple((r, n) for r, n in reporters))

    async def purge_reports(self, now: float | None = None) -> int:
        cutoff = (_time.time() if now is None else now) - self.history_days * _DAY
        with self._failing("purging reports"):
            async with self._transaction(write=True) as db:
                await db.execute("DELETE FROM report_steps WHERE report_id IN "
                                 "(SELECT id FROM reports WHERE received < ?)", (cutoff,))
                cursor = await db.execute("DELETE FROM reports WHERE received < ?", (cutoff,))
                return cursor.rowcount

    # --- repeat sources and the block list (sources.py) -----------------------------------------

    async def count_report(self, kind: SourceKind, value: str, reporter: str, now: float,
                           window: float, threshold: int, expiry: float) -> BlockEntry | None:
        """One BEGIN IMMEDIATE transaction: the write lock is held from the count to the listing,
        so two processes counting the last reporters at once list the source once, with the count
        that includes both."""
        if threshold < 1 or not 0 < window <= COUNT_KEEP_SECONDS or expiry <= 0:
            raise ValueError(f"count_report: threshold {threshold} (at least 1), window {window:g}s "
                             f"(0 to {COUNT_KEEP_SECONDS}s), expiry {expiry:g}s (above 0)")
        key = (kind, _text(value))
        with self._failing(f"counting a report of {kind}:{value}"):
            async with self._transaction(write=True) as db:
                await db.execute(
                    "INSERT INTO source_reports (kind, value, reporter, at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, value, reporter) DO UPDATE SET at = max(at, excluded.at)",
                    (*key, _text(reporter), now))
                (reporters,) = (await db.execute_fetchall(
                    "SELECT count(*) FROM source_reports WHERE kind = ? AND value = ? AND at > ?",
                    (*key, now - window)))[0]
                if reporters >= threshold:
                    await db.execute(
                        "INSERT INTO block_list (kind, value, listed, expires, reporters) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (kind, value) DO UPDATE SET listed = excluded.listed, "
                        "expires = excluded.expires, reporters = excluded.reporters",
                        (*key, now, now + expiry, reporters))
                rows = await db.execute_fetchall(
                    "SELECT kind, value, listed, expires, reporters FROM block_list "
                    "WHERE kind = ? AND value = ? AND expires > ?", (*key, now))
        return _block_entry(rows[0]) if rows else None

    async def blocked(self, sources: Sequence[tuple[SourceKind, str]], now: float) -> list[BlockEntry]:
        wanted = list(dict.fromkeys((k, _text(v)) for k, v in sources))
        found: list[BlockEntry] = []
        if not wanted:
            return found
        with self._failing("reading the block list"):
            async with self._transaction(write=False) as db:
                for start in range(0, len(wanted), _MAX_PARAMS // 2):
                    chunk = wanted[start:start + _MAX_PARAMS // 2]
                    rows = await db.execute_fetchall(
                        "SELECT kind, value, listed, expires, reporters FROM block_list WHERE expires > ? "
                        f"AND (kind, value) IN (VALUES {', '.join('(?, ?)' for _ in chunk)})",
                        (now, *(x for pair in chunk for x in pair)))
                    found.extend(_block_entry(row) for row in rows)
        return found

    async def blocklist(self, now: float) -> list[BlockEntry]:
        with self._failing("listing the block list"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    "SELECT kind, value, listed, expires, reporters FROM block_list WHERE expires > ? "
                    "ORDER BY listed DESC, kind, value", (now,))
        return [_block_entry(row) for row in rows]

    async def remove_block(self, kind: SourceKind, value: str) -> bool:
        key = (kind, _text(value))
        with self._failing(f"removing {kind}:{value} from the block list"):
            async with self._transaction(write=True, durable=True) as db:
                await db.execute("DELETE FROM source_reports WHERE kind = ? AND value = ?", key)
                cursor = await db.execute("DELETE FROM block_list WHERE kind = ? AND value = ?", key)
                return cursor.rowcount > 0

    async def reported_sources(self, since: float, limit: int = 10) -> list[SourceCount]:
        if limit <= 0:
            return []
        with self._failing("counting reported sources"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    "SELECT kind, value, count(*) AS n, max(at) AS last FROM source_reports WHERE at >= ? "
                    "GROUP BY kind, value ORDER BY n DESC, last DESC, kind, value LIMIT ?", (since, limit))
        return [SourceCount(kind=k, value=v, reporters=n, last=last) for k, v, n, last in rows]

    async def purge_sources(self, now: float | None = None) -> int:
        t = _time.time() if now is None else now
        with self._failing("purging counted reports and expired block entries"):
            async with self._transaction(write=True) as db:
                cursor = await db.execute("DELETE FROM source_reports WHERE at < ?", (t - COUNT_KEEP_SECONDS,))
                dropped = cursor.rowcount
                cursor = await db.execute("DELETE FROM block_list WHERE expires <= ?", (t,))
                return dropped + cursor.rowcount

    # --- outbox (outbox.py) ---------------------------------------------------------------------

    async def enqueue(self, item: OutboxItem) -> None:
        """Durable on return (synchronous=FULL for the commit, as quarantine writes)."""
        row = (_text(item.id), _text(item.sender), _text(json.dumps(list(item.rcpts), ensure_ascii=False)),
               item.created or _time.time(), item.next_try, item.tries, item.state, _text(item.last_reply),
               _text(item.purpose), item.last_try, bytes(item.raw))
        with self._failing(f"queueing outgoing mail {item.id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                await self._insert_new(db, "outbox", f"{_OUTBOX_COLUMNS}, raw", "id", row,
                                       f"an outbox item {item.id!r}", item.id)

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        if limit <= 0:
            return []
        with self._failing("reading the outbox"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_OUTBOX_COLUMNS}, raw FROM outbox WHERE state = 'queued' AND next_try <= ? "
                    "ORDER BY created, rowid LIMIT ?", (now, limit))
        return [_row_outbox(row[:-1], bytes(row[-1])) for row in rows]

    async def claim(self, item_id: str, now: float, until: float) -> bool:
        with self._failing(f"claiming outgoing mail {item_id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                cursor = await db.execute(
                    "UPDATE outbox SET next_try = ? WHERE id = ? AND state = 'queued' AND next_try <= ?",
                    (until, _text(item_id), now))
                return cursor.rowcount > 0

    async def record_attempt(self, item_id: str, reply: str, now: float, next_try: float | None,
                             sent: bool) -> None:
        state = "sent" if sent else "queued" if next_try is not None else "failed"
        with self._failing(f"recording an attempt of outgoing mail {item_id!r}"):
            async with self._transaction(write=True, durable=True) as db:
                await db.execute(
                    "UPDATE outbox SET tries = tries + 1, last_reply = ?, last_try = ?, state = ?, "
                    "next_try = coalesce(?, next_try) WHERE id = ? AND state = 'queued'",
                    (_text(reply), now, state, next_try, _text(item_id)))

    async def outbox(self, limit: int = 100) -> list[OutboxItem]:
        if limit <= 0:
            return []
        with self._failing("listing the outbox"):
            async with self._transaction(write=False) as db:
                rows = await db.execute_fetchall(
                    f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY created DESC, rowid DESC LIMIT ?", (limit,))
        return [_row_outbox(row, b"") for row in rows]

    async def purge_outbox(self, now: float | None = None) -> int:
        cutoff = (_time.time() if now is None else now) - self.history_days * _DAY
        with self._failing("purging the outbox"):
            async with self._transaction(write=True) as db:
                cursor = await db.execute(
                    "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND coalesce(last_try, created) < ?",
                    (cutoff,))
                return cursor.rowcount

    # --- rows ---------------------------------------------------------------------------------

    def _record(self, row: Sequence[Any]) -> MessageRecord:
        try:
            return _row_record(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"{self.path}: malformed stored record {row[0]!r}: {exc}") from exc


@contextlib.asynccontextmanager
async def _tx(db: aiosqlite.Connection, *, write: bool, durable: bool = False) -> AsyncIterator[None]:
    """One transaction on db; the caller holds the store's lock (or has the connection to itself).

    aiosqlite runs every queued statement in order, even one whose awaiting task was cancelled.
    So on any exception, cancellation included (even one that lands while BEGIN or COMMIT is in
    flight), a ROLLBACK is queued, and it runs before the next lock holder's first statement.
    """
    try:
        if durable:
            # FULL makes this commit fsync the WAL before it returns; the connection otherwise runs
            # at NORMAL so that history rows do not pay an fsync each. (SQLite refuses to change it
            # inside a transaction, hence around BEGIN/COMMIT.)
            await db.execute("PRAGMA synchronous = FULL")
        try:
            await db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield
            await db.execute("COMMIT")
        except BaseException:
            # Fails harmlessly when there is no transaction: BEGIN failed, SQLite already rolled
            # back, or a COMMIT whose await was cancelled went through.
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            raise
    finally:
        if durable:
            await db.execute("PRAGMA synchronous = NORMAL")


async def _steps_of(db: aiosqlite.Connection, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The steps of these reports, each in order."""
    steps: dict[str, list[str]] = {}
    for start in range(0, len(ids), _MAX_PARAMS):
        chunk = list(ids[start:start + _MAX_PARAMS])
        rows = await db.execute_fetchall(
            f"SELECT report_id, step FROM report_steps WHERE report_id IN ({', '.join('?' for _ in chunk)}) "
            "ORDER BY id", chunk)
        for report_id, step in rows:
            steps.setdefault(report_id, []).append(step)
    return {k: tuple(v) for k, v in steps.items()}


async def _pragma_int(db: aiosqlite.Connection, name: str) -> int:
    (value,) = (await db.execute_fetchall(f"PRAGMA {name}"))[0]
    return int(value)


async def _history_days(db: aiosqlite.Connection) -> list[date]:
    """The days that have a history table, newest first."""
    rows = await db.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB ?", (HISTORY_TABLE_GLOB,)
    )
    days = (history_day(name) for (name,) in rows)
    return sorted((d for d in days if d is not None), reverse=True)


def _day_of(t: float) -> date:
    """The UTC day of a time in seconds since the epoch."""
    try:
        return date.fromordinal(_EPOCH_ORDINAL + int(t // _DAY))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"time {t!r} is not a representable date") from exc


def _text(value: str) -> str:
    # SQLite text is UTF-8, and a str holding lone surrogates (bytes smuggled by surrogateescape)
    # cannot be encoded: keep them visible as \udcXX rather than lose the row.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _opt_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _record_row(r: MessageRecord) -> tuple[Any, ...]:
    symbols = [{"name": s.name, "score": s.score, "detail": s.detail} for s in r.symbols]
    return (
        _text(r.queue_id), r.time, _opt_text(r.client_ip), _opt_text(r.client_name), _opt_text(r.helo),
        _text(r.mail_from), _text(json.dumps(list(r.rcpts), ensure_ascii=False)), _text(r.message_id),
        _text(r.subject), _text(r.from_header), _text(r.action), r.score, r.required,
        _text(json.dumps(symbols, ensure_ascii=False)), _text(r.headers), r.size, _text(r.outcome),
    )


def _row_record(row: Sequence[Any]) -> MessageRecord:
    (queue_id, t, client_ip, client_name, helo, mail_from, rcpts, message_id, subject, from_header,
     action, score, required, symbols, headers, size, outcome) = row
    return MessageRecord(
        queue_id=queue_id, time=t, client_ip=client_ip, client_name=client_name, helo=helo,
        mail_from=mail_from, rcpts=tuple(json.loads(rcpts)), message_id=message_id, subject=subject,
        from_header=from_header, action=action, score=score, required=required,
        symbols=tuple(SymbolRecord(name=s["name"], score=float(s["score"]), detail=s["detail"])
                      for s in json.loads(symbols)),
        headers=headers, size=size, outcome=outcome,
    )


def _row_report(row: Sequence[Any], steps: tuple[str, ...], raw: bytes = b"") -> ReportRecord:
    (report_id, received, reporter, kind, sender, client_ip, subject, message_id, status, shape) = row
    return ReportRecord(id=report_id, received=received, reporter=reporter, kind=kind, sender=sender,
                        client_ip=client_ip, subject=subject, message_id=message_id, status=status, shape=shape,
                        steps=steps, raw=raw)


def _block_entry(row: Sequence[Any]) -> BlockEntry:
    kind, value, listed, expires, reporters = row
    return BlockEntry(kind=kind, value=value, listed=listed, expires=expires, reporters=reporters)


def _row_outbox(row: Sequence[Any], raw: bytes) -> OutboxItem:
    (item_id, sender, rcpts, created, next_try, tries, state, last_reply, purpose, last_try) = row
    return OutboxItem(id=item_id, sender=sender, rcpts=tuple(json.loads(rcpts)), raw=raw, created=created,
                      next_try=next_try, tries=tries, state=state, last_reply=last_reply, purpose=purpose,
                      last_try=last_try)
