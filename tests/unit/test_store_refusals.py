"""Recipients' refusals of advertisers in the SQLite store (store/refusals.py)."""
from __future__ import annotations

import asyncio

import pytest

from mailguard.store.backends import DB_NAME
from mailguard.store.base import StoreError
from mailguard.store.refusals import Refusal
from mailguard.store.sqlite import SqliteStore
from storetools import statements

T0 = 1_800_000_000.0
BOB = "bob@example.vn"  # keys as advertising/identity.py makes them
CAROL = "carol@example.vn"


def run(coro):
    return asyncio.run(coro)


def test_add_twice_keeps_the_first(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            assert await store.add_refusal(Refusal(BOB, "shop.vn", T0, "report")) is True
            assert await store.add_refusal(Refusal(BOB, "shop.vn", T0 + 5, "command")) is False
            assert await store.refusals() == [Refusal(BOB, "shop.vn", T0, "report")]

    run(go())


def test_refused_remove_and_list(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_refusal(Refusal(BOB, "shop.vn", T0 + 2, "command"))
            await store.add_refusal(Refusal(BOB, "news.vn", T0 + 1, "unsubscribe"))
            await store.add_refusal(Refusal(CAROL, "shop.vn", T0 + 3, "report"))
            assert await store.refused(BOB, ["shop.vn", "other.vn", "news.vn", "shop.vn"]) == {"shop.vn", "news.vn"}
            assert await store.refused(CAROL, ["news.vn"]) == set()
            assert await store.refused(BOB, []) == set()
            assert [(r.recipient, r.advertiser) for r in await store.refusals()] == [
                (BOB, "news.vn"), (BOB, "shop.vn"), (CAROL, "shop.vn")]  # oldest first
            assert [r.advertiser for r in await store.refusals(CAROL)] == ["shop.vn"]
            assert await store.remove_refusal(BOB, "shop.vn") is True
            assert await store.remove_refusal(BOB, "shop.vn") is False
            assert await store.refused(BOB, ["shop.vn", "news.vn"]) == {"news.vn"}
            # after a removal the pair can be refused again
            assert await store.add_refusal(Refusal(BOB, "shop.vn", T0 + 9, "command")) is True

    run(go())


def test_many_advertisers_at_once(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for i in range(0, 1200, 7):
                await store.add_refusal(Refusal(BOB, f"a{i}.vn", T0 + i, "report"))
            found = await store.refused(BOB, [f"a{i}.vn" for i in range(1200)])
            assert found == {f"a{i}.vn" for i in range(0, 1200, 7)}

    run(go())


def test_refusals_survive_reopening_and_never_expire(tmp_path):
    async def fill():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_refusal(Refusal(BOB, "shop.vn", T0, "report"))

    async def later():
        async with SqliteStore(tmp_path / DB_NAME, history_days=1) as store:
            assert await store.purge_history(now=T0 + 10 * 365 * 86400) == 0
            assert await store.purge_ledger(now=T0 + 10 * 365 * 86400) == 0
            assert await store.refused(BOB, ["shop.vn"]) == {"shop.vn"}
            assert await store.refusals() == [Refusal(BOB, "shop.vn", T0, "report")]

    run(fill())
    run(later())


def test_refusal_commit_is_durable(tmp_path):
    """The write commits with synchronous=FULL, as quarantine writes do."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with statements(store) as seen:
                await store.add_refusal(Refusal(BOB, "shop.vn", T0, "command"))
                await store.remove_refusal(BOB, "shop.vn")
            for op in ("INSERT INTO ad_refusals", "DELETE FROM ad_refusals"):
                i = next(n for n, s in enumerate(seen) if s.startswith(op))
                assert "PRAGMA synchronous = FULL" in seen[:i] and seen[i + 1] == "COMMIT"

    run(go())


def test_an_unknown_source_is_refused_by_the_schema(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with pytest.raises(StoreError):
                await store.add_refusal(Refusal(BOB, "shop.vn", T0, "guess"))  # type: ignore[arg-type]
            assert await store.refusals() == []

    run(go())


def test_unsubscribe_addresses_are_kept_per_recipient_newest_ad_winning_then_purged(tmp_path):
    from mailguard.store.refusals import UNSUBSCRIBE_DAYS

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.remember_unsubscribe("unsub@esp.vn", BOB, "shop.vn", T0)
            await store.remember_unsubscribe("unsub@esp.vn", BOB, "news.vn", T0 + 10)
            await store.remember_unsubscribe("unsub@esp.vn", CAROL, "shop.vn", T0)
            assert await store.unsubscribe_advertiser("unsub@esp.vn", BOB) == "news.vn"
            assert await store.unsubscribe_advertiser("unsub@esp.vn", CAROL) == "shop.vn"
            assert await store.unsubscribe_advertiser("other@esp.vn", BOB) is None
            await store.purge_ledger(now=T0 + 5 + UNSUBSCRIBE_DAYS * 86400)
            assert await store.unsubscribe_advertiser("unsub@esp.vn", CAROL) is None  # older than kept
            assert await store.unsubscribe_advertiser("unsub@esp.vn", BOB) == "news.vn"

    run(go())
