"""Repeat sources and the local block list in the SQLite store (store/sources.py): distinct
reporters, the window edge, listing at the threshold and renewal, expiry, removal starting
afresh, the purge, and the race for the last reporter between two stores and two processes."""
from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from mailguard.store.backends import DB_NAME
from mailguard.store.sources import COUNT_KEEP_SECONDS, BlockEntry
from mailguard.store.sqlite import SqliteStore
from storetools import race_processes

T0 = 1_800_000_000.0
HOUR, DAY = 3600, 86400
WINDOW, THRESHOLD, EXPIRY = DAY, 3, 7 * DAY
IP = "192.0.2.7"


def run(coro):
    return asyncio.run(coro)


def count(store, reporter: str, now: float, value: str = IP, kind: str = "ip", **kw):
    kw = {"window": WINDOW, "threshold": THRESHOLD, "expiry": EXPIRY, **kw}
    return store.count_report(kind, value, reporter, now, **kw)


def test_listed_at_the_threshold_of_distinct_reporters(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for i in range(10):  # one reporter ten times is one reporter
                assert await count(store, "bob@example.vn", T0 + i) is None
            assert await count(store, "carol@example.vn", T0 + 20) is None
            entry = await count(store, "dave@example.vn", T0 + 30)
            assert entry == BlockEntry("ip", IP, listed=T0 + 30, expires=T0 + 30 + EXPIRY, reporters=3)
            assert entry.name == f"ip:{IP}"
            assert await store.blocked([("ip", IP), ("ip", "198.51.100.1"), ("domain", IP)], T0 + 31) == [entry]
            assert await store.blocklist(T0 + 31) == [entry]

    run(go())


def test_the_window_edge(tmp_path):
    """A report counted at t is in the window at now while now - window < t."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await count(store, "a@example.vn", T0)
            await count(store, "b@example.vn", T0 + 10)
            assert await count(store, "c@example.vn", T0 + WINDOW) is None  # a's report is exactly WINDOW old
            assert (await store.blocklist(T0 + WINDOW)) == []
            # the same three within the window, one second younger: listed
            async with SqliteStore(tmp_path / "other.sqlite3") as other:
                await count(other, "a@example.vn", T0)
                await count(other, "b@example.vn", T0 + 10)
                entry = await count(other, "c@example.vn", T0 + WINDOW - 1)
                assert entry is not None and entry.reporters == 3
            # a reporter reporting again moves its report forward: it counts anew
            entry = await count(store, "a@example.vn", T0 + WINDOW + 5)
            assert entry is not None and entry.reporters == 3

    run(go())


def test_renewal_and_expiry(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for i, who in enumerate(("a", "b", "c")):
                first = await count(store, f"{who}@example.vn", T0 + i)
            assert first.listed == T0 + 2
            # a fourth reporter later, still past the threshold: renewed
            renewed = await count(store, "d@example.vn", T0 + HOUR)
            assert renewed == BlockEntry("ip", IP, T0 + HOUR, T0 + HOUR + EXPIRY, reporters=4)
            # out of the window the reports no longer reach the threshold: nothing renews, the
            # entry is given back as it is until it expires
            late = T0 + 3 * DAY
            assert await count(store, "e@example.vn", late) == renewed
            assert await store.blocked([("ip", IP)], renewed.expires - 1) == [renewed]
            assert await store.blocked([("ip", IP)], renewed.expires) == []  # expires is exclusive
            assert await store.blocklist(renewed.expires) == []
            assert await count(store, "f@example.vn", renewed.expires) is None

    run(go())


def test_blocklist_newest_first_and_kinds_apart(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            one = await count(store, "a@example.vn", T0, value="spam.example", kind="domain", threshold=1)
            two = await count(store, "a@example.vn", T0 + 5, value="x@spam.example", kind="address", threshold=1)
            three = await count(store, "a@example.vn", T0 + 9, value="spam.example", kind="link", threshold=1)
            assert await store.blocklist(T0 + 10) == [three, two, one]
            assert await store.blocked([("link", "spam.example")], T0 + 10) == [three]
            assert await store.blocked([], T0) == []
            many = [("ip", f"198.51.100.{i}") for i in range(300)] + [("domain", "spam.example")]
            assert await store.blocked(many, T0 + 10) == [one]

    run(go())


def test_remove_starts_afresh(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for who in ("a", "b", "c"):
                await count(store, f"{who}@example.vn", T0)
            assert await store.remove_block("ip", IP) is True
            assert await store.remove_block("ip", IP) is False
            assert await store.blocked([("ip", IP)], T0 + 1) == []
            # the earlier reports went with it: two new ones do not list it again
            assert await count(store, "a@example.vn", T0 + 2) is None
            assert await count(store, "b@example.vn", T0 + 3) is None
            assert (await count(store, "c@example.vn", T0 + 4)).reporters == 3

    run(go())


def test_reported_sources_most_reporters_first(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for who in ("a", "b", "c"):
                await count(store, f"{who}@example.vn", T0, threshold=10)
            await count(store, "a@example.vn", T0 + 1, kind="domain", value="spam.example", threshold=10)
            await count(store, "a@example.vn", T0 - 2 * DAY, kind="link", value="old.example", threshold=10)
            found = await store.reported_sources(T0 - DAY)
            assert [(s.name, s.reporters, s.last) for s in found] == [
                (f"ip:{IP}", 3, T0), ("domain:spam.example", 1, T0 + 1)]
            assert len(await store.reported_sources(0, limit=10)) == 3
            assert await store.reported_sources(0, limit=0) == []

    run(go())


def test_purge_drops_old_counts_and_expired_entries(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await count(store, "a@example.vn", T0, threshold=1, expiry=DAY)
            await count(store, "a@example.vn", T0 + 20 * DAY, value="198.51.100.1", threshold=10)
            assert await store.purge_sources(now=T0 + DAY - 1) == 0
            assert await store.purge_sources(now=T0 + DAY) == 1  # the entry, expired
            assert await store.purge_sources(now=T0 + COUNT_KEEP_SECONDS + 1) == 1  # the old count
            assert [s.value for s in await store.reported_sources(0)] == ["198.51.100.1"]

    run(go())


def test_counts_and_entries_survive_reopening(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await count(store, "a@example.vn", T0)
            await count(store, "b@example.vn", T0)
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert (await count(store, "c@example.vn", T0 + 1)).reporters == 3
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert [e.name for e in await store.blocklist(T0 + 2)] == [f"ip:{IP}"]

    run(go())


@pytest.mark.parametrize("bad", [dict(threshold=0), dict(window=0), dict(window=COUNT_KEEP_SECONDS + 1),
                                 dict(expiry=0)])
def test_settings_out_of_range_are_refused(tmp_path, bad):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with pytest.raises(ValueError):
                await count(store, "a@example.vn", T0, **bad)
            assert await store.reported_sources(0) == []

    run(go())


# --- the race for the last reporter ---------------------------------------------------------

async def _setup_race(path: Path, rounds: int) -> None:
    """Round r: source ip 198.51.100.r has 1 reporter; two more are needed (threshold 3)."""
    async with SqliteStore(path) as store:
        for r in range(rounds):
            await count(store, "first@example.vn", T0, value=f"198.51.100.{r}")


def _assert_listed_once(path: Path, rounds: int, results: list[list]) -> None:
    # Each round: one of the two reporters is the 2nd (None), the other the 3rd (listed, 3).
    for r, pair in enumerate(results):
        assert sorted(pair, key=lambda e: e is not None) == [None, pair[0] or pair[1]], (r, pair)
        assert (pair[0] or pair[1])[1] == 3, (r, pair)

    async def check():
        async with SqliteStore(path) as store:
            entries = await store.blocklist(T0 + 20)
            assert sorted(e.value for e in entries) == sorted(f"198.51.100.{r}" for r in range(rounds))
            assert all(e.reporters == 3 for e in entries)

    run(check())


def test_two_stores_counting_the_last_reporter_at_once_list_it_once(tmp_path):
    rounds = 40
    path = tmp_path / DB_NAME

    async def go():
        await _setup_race(path, rounds)
        a, b = SqliteStore(path), SqliteStore(path)
        await asyncio.gather(a.open(), b.open())
        results = []
        try:
            for r in range(rounds):
                pair = await asyncio.gather(count(a, "a@example.vn", T0 + 10, value=f"198.51.100.{r}"),
                                            count(b, "b@example.vn", T0 + 10, value=f"198.51.100.{r}"))
                results.append([None if e is None else [e.name, e.reporters] for e in pair])
        finally:
            await a.close()
            await b.close()
        return results

    _assert_listed_once(path, rounds, run(go()))


_WORKER = textwrap.dedent("""
    import asyncio, json, sys
    from mailguard.store.sqlite import SqliteStore

    async def main(path, reporter):
        async with SqliteStore(path) as store:
            print("ready", flush=True)
            for line in sys.stdin:
                e = await store.count_report("ip", f"198.51.100.{line.strip()}", reporter, %r, %r, 3, %r)
                print(json.dumps(None if e is None else [e.name, e.reporters]), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""" % (T0 + 10, float(WINDOW), float(EXPIRY)))


def test_two_processes_counting_the_last_reporter_at_once_list_it_once(tmp_path):
    rounds = 30
    path = tmp_path / DB_NAME
    run(_setup_race(path, rounds))
    results = race_processes(_WORKER, [[str(path), who] for who in ("a@example.vn", "b@example.vn")], rounds)
    _assert_listed_once(path, rounds, results)
