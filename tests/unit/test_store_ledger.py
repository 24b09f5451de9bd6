"""The advertising ledger in the SQLite store (store/ledger.py): the limit, the sliding window,
pending slots, restart, the upgrade of an older store, and the race for the last slot between
two stores and between two processes on one file."""
from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from pathlib import Path

import aiosqlite

from mailguard.store.backends import DB_NAME
from mailguard.store.ledger import PENDING_SECONDS, WINDOW_SECONDS, LedgerEntry, Slot
from mailguard.store.migrations import MIGRATIONS, SCHEMA_VERSION
from mailguard.store.records import QuarantineEntry
from mailguard.store.sqlite import SqliteStore
from storetools import race_processes

from test_store import record

T0 = 1_800_000_000.0
SHOP = "shop.vn"  # keys as advertising/identity.py makes them
BOB = "bob@example.vn"
CAROL = "carol@example.vn"


def run(coro):
    return asyncio.run(coro)


async def take(store: SqliteStore, now: float, advertiser: str = SHOP, limit: int | None = 3,
               recipient: str = BOB) -> Slot:
    (slot,) = await store.reserve(advertiser, {recipient: limit}, now)
    return slot


async def take_confirmed(store: SqliteStore, now: float, **kw) -> Slot:
    slot = await take(store, now, **kw)
    assert slot.granted
    await store.confirm([slot.id])
    return slot


def test_the_fourth_ad_in_24_hours_is_refused(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            places = [await take_confirmed(store, T0 + 60 * i) for i in range(3)]
            assert [(s.granted, s.place, s.limit) for s in places] == [(True, 1, 3), (True, 2, 3), (True, 3, 3)]
            fourth = await take(store, T0 + 3600)
            assert fourth == Slot(BOB, granted=False, place=4, limit=3, id=None)
            # nothing was reserved for the refused one
            assert len(await store.ledger_entries(BOB, T0 + 3600)) == 3
            # another advertiser, another recipient: their own counts
            assert (await take(store, T0 + 3600, advertiser="other.vn")).place == 1
            assert (await take(store, T0 + 3600, recipient=CAROL)).place == 1

    run(go())


def test_one_reservation_for_several_recipients_each_with_its_limit(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await take_confirmed(store, T0, recipient=CAROL)
            slots = await store.reserve(SHOP, {BOB: 3, CAROL: 1, "dave@example.vn": None}, T0 + 1)
            assert [(s.recipient, s.granted, s.place, s.limit) for s in slots] == [
                (BOB, True, 1, 3), (CAROL, False, 2, 1), ("dave@example.vn", True, 1, None)]
            assert slots[0].id is not None and slots[1].id is None and slots[2].id is not None
            assert not (await store.reserve(SHOP, {BOB: 0}, T0 + 2))[0].granted

    run(go())


def test_unlimited_is_always_granted(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            slots = [await take_confirmed(store, T0 + i, limit=None) for i in range(10)]
            assert all(s.granted and s.limit is None for s in slots)
            assert [s.place for s in slots] == list(range(1, 11))

    run(go())


def test_the_window_edge(tmp_path):
    """An ad exactly WINDOW_SECONDS old no longer counts; one second younger still does."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for i in range(3):
                await take_confirmed(store, T0 + i * 10)
            one_second_before = await take(store, T0 + WINDOW_SECONDS - 1)
            assert (one_second_before.granted, one_second_before.place) == (False, 4)
            assert len(await store.ledger_entries(BOB, T0 + WINDOW_SECONDS - 1)) == 3
            at_the_edge = await take(store, T0 + WINDOW_SECONDS)
            assert (at_the_edge.granted, at_the_edge.place) == (True, 3)  # the first no longer counts
            entries = await store.ledger_entries(BOB, T0 + WINDOW_SECONDS)
            assert [e.at for e in entries] == [T0 + 10, T0 + 20, T0 + WINDOW_SECONDS]

    run(go())


def test_pending_counts_release_frees_confirm_keeps(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            a, b, c = [await take(store, T0 + i) for i in range(3)]  # all pending
            assert not (await take(store, T0 + 5)).granted  # pending slots count
            await store.release([c.id])
            d = await take(store, T0 + 6)
            assert (d.granted, d.place) == (True, 3)  # the released slot was free again
            await store.confirm([a.id, b.id, d.id])
            await store.release([a.id, b.id, d.id])  # confirmed slots are never released
            assert [e.state for e in await store.ledger_entries(BOB, T0 + 7)] == ["confirmed"] * 3
            assert not (await take(store, T0 + 8)).granted
            await store.confirm([])
            await store.release([])
            await store.confirm([999_999])  # unknown ids are left alone

    run(go())


def test_a_pending_slot_lapses_after_pending_seconds(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await take_confirmed(store, T0)
            await take_confirmed(store, T0 + 1)
            stale = await take(store, T0 + 2)  # its process died: neither confirm nor release
            assert not (await take(store, T0 + 2 + PENDING_SECONDS - 1)).granted
            assert [e.state for e in await store.ledger_entries(BOB, T0 + 2 + PENDING_SECONDS - 1)] == [
                "confirmed", "confirmed", "pending"]
            late = await take(store, T0 + 2 + PENDING_SECONDS)
            assert (late.granted, late.place) == (True, 3)
            entries = await store.ledger_entries(BOB, T0 + 2 + PENDING_SECONDS)
            assert [e.at for e in entries] == [T0, T0 + 1, T0 + 2 + PENDING_SECONDS]
            assert stale.id not in (late.id,)

    run(go())


def test_ledger_entries_oldest_first_with_their_state(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await take_confirmed(store, T0 + 5, advertiser="b.vn")
            await take(store, T0 + 1, advertiser="a.vn")
            await take_confirmed(store, T0 + 3, recipient=CAROL)
            assert await store.ledger_entries(BOB, T0 + 10) == [
                LedgerEntry("a.vn", BOB, T0 + 1, "pending"), LedgerEntry("b.vn", BOB, T0 + 5, "confirmed")]
            assert await store.ledger_entries("nobody@example.vn", T0) == []

    run(go())


def test_counts_survive_a_restart(tmp_path):
    async def fill():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await take_confirmed(store, T0)
            await take_confirmed(store, T0 + 1)
            await take(store, T0 + 2)  # pending across the restart: still counts while live

    async def after():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert (await take(store, T0 + 100)).place == 4
            assert len(await store.ledger_entries(BOB, T0 + 100)) == 3

    run(fill())
    run(after())


def test_purge_drops_only_slots_past_window_and_pending(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await take_confirmed(store, T0)
            await take_confirmed(store, T0 + 10)
            now = T0 + WINDOW_SECONDS + PENDING_SECONDS + 5
            assert await store.purge_ledger(now) == 1
            assert await store.purge_ledger(now) == 0
            with sqlite3.connect(tmp_path / DB_NAME) as con:
                assert con.execute("SELECT at FROM ad_ledger").fetchall() == [(T0 + 10,)]

    run(go())


def test_a_version_3_store_is_upgraded_keeping_its_data(tmp_path):
    async def make_v3():
        async with aiosqlite.connect(tmp_path / DB_NAME) as db:
            for step in MIGRATIONS[:3]:
                await step(db)
            await db.execute("PRAGMA user_version = 3")
            await db.commit()

    async def go():
        await make_v3()
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.quarantine(QuarantineEntry(record("Q1"), b"raw"))
            assert (await take(store, T0)).place == 1
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert (await store.quarantine_get("Q1")).raw == b"raw"
            assert (await take(store, T0 + 1)).place == 2

    run(go())
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        assert con.execute("PRAGMA user_version").fetchall() == [(SCHEMA_VERSION,)] and SCHEMA_VERSION >= 4


async def _setup_race(path: Path, rounds: int) -> None:
    """Round r: advertiser r.vn already has 2 confirmed slots with BOB, so one slot is left."""
    async with SqliteStore(path) as store:
        for r in range(rounds):
            for i in range(2):
                await take_confirmed(store, T0 + i, advertiser=f"r{r}.vn")


def _assert_one_winner(results: list[tuple[bool, int]]) -> None:
    assert sorted(results) == [(False, 4), (True, 3)], results


def test_two_stores_racing_for_the_last_slot_exactly_one_wins(tmp_path):
    rounds = 40

    async def go():
        path = tmp_path / DB_NAME
        await _setup_race(path, rounds)
        a, b = SqliteStore(path), SqliteStore(path)
        await asyncio.gather(a.open(), b.open())
        try:
            for r in range(rounds):
                slots = await asyncio.gather(take(a, T0 + 10, advertiser=f"r{r}.vn"),
                                             take(b, T0 + 10, advertiser=f"r{r}.vn"))
                _assert_one_winner([(s.granted, s.place) for s in slots])
        finally:
            await a.close()
            await b.close()
        async with SqliteStore(path) as store:
            entries = await store.ledger_entries(BOB, T0 + 10)
            assert sorted(e.advertiser for e in entries) == sorted(f"r{r}.vn" for r in range(rounds) for _ in range(3))

    run(go())


# A worker process: opens the store, says "ready", then for each line "r" on stdin reserves the
# last slot of r{r}.vn and prints the result: both workers are released by the parent at once
# (a barrier through their pipes, no sleeps).
_WORKER = textwrap.dedent("""
    import asyncio, json, sys
    from mailguard.store.sqlite import SqliteStore

    async def main(path, now):
        async with SqliteStore(path) as store:
            print("ready", flush=True)
            for line in sys.stdin:
                (slot,) = await store.reserve(f"r{line.strip()}.vn", {"bob@example.vn": 3}, now)
                print(json.dumps([slot.granted, slot.place]), flush=True)

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
""")


def test_two_processes_racing_for_the_last_slot_exactly_one_wins(tmp_path):
    rounds = 30
    path = tmp_path / DB_NAME
    run(_setup_race(path, rounds))
    for answers in race_processes(_WORKER, [[str(path), str(T0 + 10)]] * 2, rounds):
        _assert_one_winner([tuple(a) for a in answers])
