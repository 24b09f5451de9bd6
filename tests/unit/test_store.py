"""The SQLite store: quarantine, history day partitions, migrations, durability, bad files."""
from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mailguard.store.migrations import SCHEMA_VERSION
from mailguard.store.records import MessageRecord, QuarantineEntry, SymbolRecord
from mailguard.store.backends import DB_NAME
from mailguard.store.base import DuplicateId, StoreError
from mailguard.store.sqlite import SqliteStore


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def record(queue_id: str = "4Xyz1", t: float = 1_700_000_000.25, **changes) -> MessageRecord:
    base = MessageRecord(
        queue_id=queue_id,
        time=t,
        client_ip="203.0.113.7",
        client_name="mail.example.net",
        helo="mail.example.net",
        mail_from="alice@example.net",
        rcpts=("bob@example.org", "carol@example.org"),
        message_id="<1@example.net>",
        subject="hello",
        from_header="Alice <alice@example.net>",
        action="quarantine",
        score=7.3,
        required=5.0,
        symbols=(SymbolRecord("RBL_ZEN_SBL", 5.0, "127.0.0.2"), SymbolRecord("BAYES_SPAM", 2.3, "p=0.998")),
        headers="From: Alice <alice@example.net>\r\nSubject: hello\r\n",
        size=1234,
        outcome="quarantined",
    )
    return replace(base, **changes)


AUTH_RESULTS = ("Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=alice@example.net",)


def run(coro):
    return asyncio.run(coro)


def sql(path: Path, query: str, *params) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def tables(path: Path) -> set[str]:
    return {name for (name,) in sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_open_creates_file_with_wal(tmp_path):
    state = tmp_path / "var" / "state"

    async def go():
        async with SqliteStore(state / DB_NAME) as store:
            assert store.path == state / DB_NAME
            assert store.path.is_file()

    run(go())
    db = state / DB_NAME
    assert state.stat().st_mode & 0o777 == 0o750 & ~_umask()
    assert db.stat().st_mode & 0o007 == 0  # quarantined mail is not world-readable
    assert sql(db, "PRAGMA journal_mode") == [("wal",)]
    assert sql(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert "quarantine" in tables(db)


RAW = (b"Subject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\n\r\nnul \x00 here, 8-bit \xe9\xff\x80\r\n"
       + bytes(range(256)))


def test_quarantine_round_trip(tmp_path):
    rec = record(
        subject="Привет, мир 🎉 \x00 end", client_ip=None, client_name=None, helo=None,
        mail_from="", message_id="", rcpts=("ü@exämple.org",), score=0.1 + 0.2, required=1e-300,
        symbols=(SymbolRecord("X", -0.1 + 1e-17, "détail \"quoted\" \n line"),
                 SymbolRecord("EMPTY", 0.0)),
        headers="Subject: Привет\r\n", size=len(RAW), outcome="",
    )

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(QuarantineEntry(rec, RAW, AUTH_RESULTS))
            await store.quarantine(QuarantineEntry(record("empty"), b""))
            got = await store.quarantine_get(rec.queue_id)
            assert got == QuarantineEntry(rec, RAW, AUTH_RESULTS)
            assert got.raw == RAW and type(got.raw) is bytes
            assert got.record.score == 0.1 + 0.2
            assert (await store.quarantine_get("empty")).raw == b""
            assert await store.quarantine_get("nope") is None
        async with SqliteStore(tmp_path / DB_NAME) as store:  # and after a reopen, from the file
            assert await store.quarantine_get(rec.queue_id) == QuarantineEntry(rec, RAW, AUTH_RESULTS)

    run(go())


def test_quarantine_never_overwrites_an_id(tmp_path):
    """Ids are random: a collision must fail loudly (the caller picks a new id), never replace."""
    first = QuarantineEntry(record("A", subject="first"), b"one", AUTH_RESULTS)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(first)
            with pytest.raises(DuplicateId, match="'A' is stored already") as info:
                await store.quarantine(QuarantineEntry(record("A", subject="second"), b"two"))
            assert isinstance(info.value, StoreError) and info.value.queue_id == "A"
            assert await store.quarantine_get("A") == first
            assert [r.subject for r in await store.quarantine_list()] == ["first"]
            assert not store._db.in_transaction
            assert await store._db.execute_fetchall("PRAGMA synchronous") == [(1,)]  # NORMAL again
            await store.quarantine(QuarantineEntry(record("B"), b"retry"))  # the retry, with a new id
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert await store.quarantine_get("A") == first
            assert (await store.quarantine_get("B")).raw == b"retry"

    run(go())


def test_quarantine_list_order_limit_and_delete(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for i, t in enumerate([300.0, 100.0, 500.0, 200.0, 400.0]):
                await store.quarantine(QuarantineEntry(record(f"Q{i}", t=t), b"x"))
            assert [r.time for r in await store.quarantine_list()] == [500.0, 400.0, 300.0, 200.0, 100.0]
            assert [r.queue_id for r in await store.quarantine_list(limit=2)] == ["Q2", "Q4"]
            assert await store.quarantine_list(limit=0) == []
            assert await store.quarantine_delete("Q2") is True
            assert await store.quarantine_delete("Q2") is False
            assert await store.quarantine_get("Q2") is None
            assert [r.queue_id for r in await store.quarantine_list()] == ["Q4", "Q0", "Q3", "Q1"]

    run(go())


def test_quarantine_commit_runs_with_synchronous_full(tmp_path):
    statements: list[str] = []

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store._db.set_trace_callback(statements.append)
            await store.record_history(record("H"))
            await store.quarantine(QuarantineEntry(record("Q"), b"x"))
            await store._db.set_trace_callback(None)

    run(go())
    history = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO"))
    insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO quarantine"))
    full = statements.index("PRAGMA synchronous = FULL")
    commit = statements.index("COMMIT", insert)
    assert full < insert < commit < statements.index("PRAGMA synchronous = NORMAL", commit)
    assert "PRAGMA synchronous = FULL" not in statements[:history]  # history commits do not fsync


def test_history_day_tables_and_since(tmp_path):
    late = utc(2026, 11, 23, 23, 59, 59) + 0.5
    midnight = utc(2026, 11, 24)
    early = utc(2026, 11, 23, 0, 0, 1)
    later = utc(2026, 11, 25, 12)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for qid, t in [("late", late), ("midnight", midnight), ("early", early), ("later", later)]:
                await store.record_history(record(qid, t=t))
            assert [r.queue_id for r in await store.history()] == ["later", "midnight", "late", "early"]
            assert [r.queue_id for r in await store.history(since=late)] == ["later", "midnight", "late"]
            assert [r.queue_id for r in await store.history(since=late + 0.1)] == ["later", "midnight"]
            assert [r.queue_id for r in await store.history(since=later + 1)] == []
            assert [r.queue_id for r in await store.history(limit=3)] == ["later", "midnight", "late"]
            assert await store.history(limit=0) == []
            assert (await store.history(since=late))[-1] == record("late", t=late)

    run(go())
    db = tmp_path / DB_NAME
    assert {"history_20261123", "history_20261124", "history_20261125"} <= tables(db)
    assert sorted(sql(db, "SELECT queue_id FROM history_20261123")) == [("early",), ("late",)]
    assert sql(db, "SELECT queue_id FROM history_20261124") == [("midnight",)]


def test_history_of_one_sender_or_one_id_across_days(tmp_path):
    """`mailguard history --sender X` / `--id ID`: the rows that answer "why was mail from X refused?"."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            rows = [record("AAA111", t=utc(2026, 11, 23, 10), mail_from="Spam@Sender.example"),
                    record("AAA111", t=utc(2026, 11, 23, 10, 0, 1), mail_from="spam@sender.example"),
                    record("BBB222", t=utc(2026, 11, 24, 9), mail_from="spam@sender.example"),
                    record("CCC333", t=utc(2026, 11, 24, 10), mail_from=""),
                    record("DDD444", t=utc(2026, 11, 25, 8))]
            for row in rows:
                await store.record_history(row)
            def ids(found: list[MessageRecord]) -> list[str]:
                return [r.queue_id for r in found]

            assert ids(await store.history(sender="SPAM@sender.example")) == ["BBB222", "AAA111", "AAA111"]
            assert ids(await store.history(sender="spam@sender.example", since=utc(2026, 11, 24))) == ["BBB222"]
            assert ids(await store.history(sender="")) == ["CCC333"]  # the null sender
            assert await store.history(queue_id="aaa111") == [rows[1], rows[0]]  # a refusal and its message
            assert ids(await store.history(queue_id="BBB222", sender="alice@example.net")) == []
            assert ids(await store.history(sender="spam@sender.example", limit=2)) == ["BBB222", "AAA111"]

    run(go())


def test_purge_drops_whole_old_days(tmp_path):
    now = utc(2027, 6, 1, 12)
    cutoff = now - 180 * 86400  # 2026-12-03 12:00 UTC

    async def go():
        async with SqliteStore(tmp_path / DB_NAME, history_days=180) as store:
            for i in range(3):
                await store.record_history(record(f"old{i}", t=utc(2026, 1, 1, 10, i)))
            await store.record_history(record("daybefore", t=utc(2026, 12, 2, 23, 59, 59)))
            # older than the cutoff, but its day is not over by then: kept with its day
            await store.record_history(record("cutoffday", t=cutoff - 3600))
            await store.record_history(record("recent", t=utc(2027, 5, 31)))
            assert await store.purge_history(now=now) == 4
            assert await store.purge_history(now=now) == 0
            assert [r.queue_id for r in await store.history()] == ["recent", "cutoffday"]

    run(go())
    history_tables = {t for t in tables(tmp_path / DB_NAME) if t.startswith("history_")}
    assert history_tables == {"history_20261203", "history_20270531"}


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(QuarantineEntry(record("Q"), b"raw"))
            await store.record_history(record("H"))
        for _ in range(2):
            async with SqliteStore(tmp_path / DB_NAME) as store:
                assert [r.queue_id for r in await store.quarantine_list()] == ["Q"]
                assert [r.queue_id for r in await store.history()] == ["H"]

    run(go())
    assert sql(tmp_path / DB_NAME, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_newer_schema_version_is_refused(tmp_path):
    async def create():
        async with SqliteStore(tmp_path / DB_NAME):
            pass

    run(create())
    db = tmp_path / DB_NAME
    sql(db, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=r"schema version .* newer"):
        run(SqliteStore(tmp_path / DB_NAME).open())


def test_garbage_file_is_refused_with_its_name(tmp_path):
    db = tmp_path / DB_NAME
    db.write_bytes(random.Random(7).randbytes(8192))
    threads = threading.active_count()
    with pytest.raises(StoreError) as info:
        run(SqliteStore(tmp_path / DB_NAME).open())
    assert str(db) in str(info.value)
    assert "not a usable SQLite database" in str(info.value)
    deadline = time.monotonic() + 5
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads  # the connection's worker thread was stopped
    assert db.read_bytes() == random.Random(7).randbytes(8192)  # and the file left alone


def test_foreign_sqlite_database_is_refused(tmp_path):
    sql(tmp_path / DB_NAME, "CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a mailguard store"):
        run(SqliteStore(tmp_path / DB_NAME).open())


def test_unusable_state_dir(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="file"):
        run(SqliteStore(tmp_path / "file" / "state" / DB_NAME).open())


def test_not_open_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="not open"):
        run(SqliteStore(tmp_path / DB_NAME).history())


def test_text_that_utf8_cannot_hold_still_lands(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.record_history(record(subject="bad \udce9 byte", rcpts=("x\udcff@y",)))
            (got,) = await store.history()
            assert got.subject == "bad \\udce9 byte"
            assert got.rcpts == ("x\udcff@y",)

    run(go())


def test_concurrent_writes_all_land(tmp_path):
    base = utc(2026, 11, 23, 23, 59, 59)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            jobs = []
            for i in range(50):
                rec = record(f"M{i:02d}", t=base + i * 0.05)  # straddles midnight: two day tables
                jobs.append(store.record_history(rec))
                jobs.append(store.quarantine(QuarantineEntry(rec, b"raw %d \x00" % i)))
                jobs.append(store.history(limit=5))
            await asyncio.gather(*jobs)
            got = await store.history()
            assert sorted(r.queue_id for r in got) == [f"M{i:02d}" for i in range(50)]
            assert [r.time for r in got] == sorted((r.time for r in got), reverse=True)
            listed = await store.quarantine_list(limit=100)
            assert len(listed) == 50
            assert (await store.quarantine_get("M07")).raw == b"raw 7 \x00"

    run(go())
    db = tmp_path / DB_NAME
    assert sql(db, "SELECT count(*) FROM history_20261123")[0][0] + \
        sql(db, "SELECT count(*) FROM history_20261124")[0][0] == 50


@pytest.mark.parametrize("statement, committed", [
    ("PRAGMA synchronous = FULL", False), ("BEGIN", False), ("INSERT", False), ("COMMIT", True),
])
def test_cancelled_quarantine_leaves_the_store_clean(tmp_path, statement, committed):
    """A task cancelled while any statement of its transaction is in flight."""
    async def go():
        loop = asyncio.get_running_loop()
        async with SqliteStore(tmp_path / DB_NAME) as store:
            task: asyncio.Task | None = None

            def trace(sql_text: str) -> None:  # runs in aiosqlite's thread as the statement starts
                if task is not None and sql_text.startswith(statement):
                    loop.call_soon_threadsafe(task.cancel)

            await store._db.set_trace_callback(trace)
            task = asyncio.create_task(store.quarantine(QuarantineEntry(record("X"), b"r")))
            with pytest.raises(asyncio.CancelledError):
                await task
            task = None
            await store._db.set_trace_callback(None)
            assert not store._db.in_transaction
            assert await store._db.execute_fetchall("PRAGMA synchronous") == [(1,)]  # NORMAL again
            assert (await store.quarantine_get("X") is not None) is committed
            await store.quarantine(QuarantineEntry(record("after"), b"r"))
            await store.record_history(record("after"))
            assert [r.queue_id for r in await store.history()] == ["after"]

    run(go())


def test_two_stores_on_one_file(tmp_path):
    """Two connections (as two worker processes would have) opening and writing at once."""
    async def go():
        a, b = SqliteStore(tmp_path / DB_NAME), SqliteStore(tmp_path / DB_NAME)
        await asyncio.gather(a.open(), b.open())
        try:
            await asyncio.gather(*(s.record_history(record(f"{n}{i}", t=1000.0 + i))
                                   for i in range(20) for n, s in (("a", a), ("b", b))))
            assert len(await a.history()) == len(await b.history()) == 40
        finally:
            await a.close()
            await b.close()

    run(go())
    assert sql(tmp_path / DB_NAME, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


def test_a_version_1_store_is_migrated_keeping_its_quarantine(tmp_path):
    """Version 1 had no added_headers column: its entries survive the upgrade, with none."""
    import aiosqlite

    from mailguard.store.migrations import MIGRATIONS

    async def make_v1():
        tmp_path.mkdir(exist_ok=True)
        async with aiosqlite.connect(tmp_path / DB_NAME) as db:
            await MIGRATIONS[0](db)
            await db.execute("PRAGMA user_version = 1")
            await db.commit()

    async def go():
        await make_v1()
        con = sqlite3.connect(tmp_path / DB_NAME)
        columns = [r[1] for r in con.execute("PRAGMA table_info(quarantine)")]
        values = dict.fromkeys(columns, "")
        values.update(queue_id="OLD", time=1.0, rcpts="[]", symbols="[]", score=0.0, required=5.0,
                      size=3, action="quarantine", raw=b"old")
        con.execute(f"INSERT INTO quarantine ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                    list(values.values()))
        con.commit()
        con.close()
        async with SqliteStore(tmp_path / DB_NAME) as store:
            old = await store.quarantine_get("OLD")
            assert old.raw == b"old" and old.added_headers == ()
            await store.quarantine(QuarantineEntry(record("NEW"), b"new", AUTH_RESULTS))
            assert (await store.quarantine_get("NEW")).added_headers == AUTH_RESULTS

    run(go())
    assert sql(tmp_path / DB_NAME, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION >= 2


def test_four_stores_opening_one_new_file_at_once_all_open(tmp_path):
    """As worker processes starting together would: none is refused with 'database is locked'."""
    async def go(path):
        stores = [SqliteStore(path) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        await asyncio.gather(*(s.close() for s in stores))

    for n in range(15):
        run(go(tmp_path / f"{n}" / DB_NAME))


def test_quarantined_messages_expire_after_quarantine_days(tmp_path):
    now = utc(2026, 12, 1, 12)
    day = 86400.0

    async def go():
        async with SqliteStore(tmp_path / DB_NAME, quarantine_days=30) as store:
            for queue_id, age in (("OLD", 30 * day + 60), ("EDGE", 30 * day - 60), ("NEW", day)):
                await store.quarantine(QuarantineEntry(record(queue_id, t=now - age), b"x"))
            await store.record_history(record("OLD", t=now - 30 * day - 60))
            assert await store.purge_quarantine(now=now - 2 * day) == 0  # none 30 days old yet
            assert await store.purge_quarantine(now=now) == 1
            assert [r.queue_id for r in await store.quarantine_list()] == ["NEW", "EDGE"]
            assert await store.quarantine_get("OLD") is None
            assert [r.queue_id for r in await store.history()] == ["OLD"]  # its history row stays
            assert await store.purge_quarantine(now=now) == 0

    run(go())
