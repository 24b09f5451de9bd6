"""Users' reports in the SQLite store (store/reports.py): steps, listing, rate counts, stats,
durability across reopening, and the history_days purge."""
from __future__ import annotations

import asyncio
import sqlite3

import aiosqlite
import pytest

from mailguard.store.backends import DB_NAME
from mailguard.store.base import DuplicateId, StoreError
from mailguard.store.migrations import MIGRATIONS, SCHEMA_VERSION
from mailguard.store.reports import ReportRecord
from mailguard.store.sqlite import SqliteStore
from storetools import statements

T0 = 1_800_000_000.0
DAY = 86400


def run(coro):
    return asyncio.run(coro)


def report(n: int, at: float = T0, reporter: str = "bob@example.vn", kind: str = "spam", **kw) -> ReportRecord:
    fields = dict(id=f"R{n}", received=at, reporter=reporter, kind=kind, sender=f"s{n}@spam.example",
                  client_ip="192.0.2.7", subject=f"offer {n}", message_id=f"<m{n}@spam.example>", status="done",
                  shape="attached", raw=f"raw report {n}\r\n".encode())
    fields.update(kw)
    return ReportRecord(**fields)


def test_add_read_and_steps_in_order(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_report(report(1, steps=("received",)))
            await store.add_report_step("R1", "learnt spam")
            await store.add_report_step("R1", "counted ip=192.0.2.7")
            got = await store.report("R1")
            assert got == report(1, steps=("received", "learnt spam", "counted ip=192.0.2.7"))
            assert got.raw == b"raw report 1\r\n"
            assert await store.report("R9") is None
            with pytest.raises(StoreError):
                await store.add_report_step("R9", "lost")

    run(go())


def test_a_taken_id_is_refused_and_the_first_kept(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_report(report(1))
            with pytest.raises(DuplicateId) as err:
                await store.add_report(report(1, subject="other", steps=("x",)))
            assert err.value.queue_id == "R1"
            assert await store.report("R1") == report(1)

    run(go())


def test_listing_newest_first_without_raw_since_and_limit(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for n in range(5):
                await store.add_report(report(n, at=T0 + n, steps=(f"step {n}",)))
            listed = await store.reports()
            assert [r.id for r in listed] == ["R4", "R3", "R2", "R1", "R0"]
            assert all(r.raw == b"" for r in listed) and listed[0].steps == ("step 4",)
            assert [r.id for r in await store.reports(since=T0 + 3)] == ["R4", "R3"]
            assert [r.id for r in await store.reports(limit=2)] == ["R4", "R3"]
            assert await store.reports(limit=0) == []

    run(go())


def test_reports_by_counts_one_reporter_since(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for n in range(4):
                await store.add_report(report(n, at=T0 + n * 10))
            await store.add_report(report(9, at=T0 + 5, reporter="carol@example.vn"))
            assert await store.reports_by("bob@example.vn", T0) == 4
            assert await store.reports_by("bob@example.vn", T0 + 10) == 3  # since is inclusive
            assert await store.reports_by("carol@example.vn", T0) == 1
            assert await store.reports_by("dave@example.vn", T0) == 0

    run(go())


def test_stats_by_kind_learnt_status_and_reporters(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_report(report(1, steps=("learnt spam",)))
            await store.add_report(report(2, steps=("learnt spam", "counted ip=192.0.2.7")))
            await store.add_report(report(3, reporter="carol@example.vn"))
            await store.add_report(report(4, kind="ham", reporter="carol@example.vn", steps=("learnt ham",)))
            await store.add_report(report(5, kind="ham", reporter="dave@example.vn", status="unparsed",
                                          steps=("learnt spam",)))  # not its kind: not counted as learnt
            await store.add_report(report(6, at=T0 - DAY, reporter="old@example.vn"))
            stats = await store.report_stats(since=T0)
            assert stats.total == 5
            assert stats.by_kind == {"spam": 3, "ham": 2}
            assert stats.learnt == {"spam": 2, "ham": 1}
            assert stats.by_status == {"done": 4, "unparsed": 1}
            assert stats.top_reporters == (("bob@example.vn", 2), ("carol@example.vn", 2), ("dave@example.vn", 1))
            assert (await store.report_stats(top=1)).top_reporters == (("bob@example.vn", 2),)
            assert (await store.report_stats()).total == 6
            empty = await store.report_stats(since=T0 + DAY)
            assert empty.total == 0 and empty.by_kind == {"spam": 0, "ham": 0} and empty.top_reporters == ()

    run(go())


def test_reports_survive_reopening_and_are_purged_after_history_days(tmp_path):
    path = tmp_path / DB_NAME

    async def fill():
        async with SqliteStore(path) as store:
            await store.add_report(report(1, at=T0, steps=("learnt spam",)))
            await store.add_report(report(2, at=T0 + 100 * DAY))

    async def later():
        async with SqliteStore(path, history_days=180) as store:
            assert (await store.report("R1")).steps == ("learnt spam",)
            assert await store.purge_reports(now=T0 + 180 * DAY) == 0  # exactly 180 days old: kept
            assert await store.purge_reports(now=T0 + 180 * DAY + 1) == 1
            assert [r.id for r in await store.reports()] == ["R2"]
            assert await store.report("R1") is None

    run(fill())
    run(later())
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM report_steps").fetchall() == [(0,)]


def test_report_commits_are_durable(tmp_path):
    """add_report and add_report_step commit with synchronous=FULL, as quarantine writes."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with statements(store) as seen:
                await store.add_report(report(1))
                await store.add_report_step("R1", "learnt spam")
            for op in ("INSERT INTO reports", "INSERT INTO report_steps"):
                i = next(n for n, s in enumerate(seen) if s.startswith(op))
                assert "PRAGMA synchronous = FULL" in seen[:i]
                assert "COMMIT" in seen[i:] and seen[seen.index("COMMIT", i) + 1] == "PRAGMA synchronous = NORMAL"

    run(go())


def test_an_unknown_kind_is_refused_by_the_schema(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with pytest.raises(StoreError):
                await store.add_report(report(1, kind="maybe"))
            assert await store.reports() == []

    run(go())


def test_a_version_5_store_is_upgraded_keeping_its_data(tmp_path):
    from mailguard.store.refusals import Refusal

    path = tmp_path / DB_NAME

    async def make_v5():
        async with SqliteStore(path) as store:
            await store.add_refusal(Refusal("bob@example.vn", "shop.vn", T0, "report"))
        async with aiosqlite.connect(path) as db:  # back to version 5: step 6's tables gone
            for table in ("report_steps", "reports", "source_reports", "block_list", "outbox"):
                await db.execute(f"DROP TABLE {table}")
            await db.execute("PRAGMA user_version = 5")
            await db.commit()

    async def go():
        await make_v5()
        async with SqliteStore(path) as store:
            assert await store.refused("bob@example.vn", ["shop.vn"]) == {"shop.vn"}
            await store.add_report(report(1))
            assert (await store.report("R1")).subject == "offer 1"

    run(go())
    assert SCHEMA_VERSION == len(MIGRATIONS) == 6
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchall() == [(6,)]
