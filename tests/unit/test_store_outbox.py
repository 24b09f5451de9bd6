"""The outbox in the SQLite store (store/outbox.py): due items, claims, attempt states, durability
across reopening, the purge; and the worker's retry schedule (reports/outbox_worker.py) with its
SMTP conversation replaced (tests/integration/test_outbox.py talks to a real relay)."""
from __future__ import annotations

import asyncio
import time

import pytest

from mailguard.config import HostPort
from mailguard.reports.outbox_worker import Outcome, OutboxWorker
from mailguard.store.backends import DB_NAME
from mailguard.store.base import DuplicateId
from mailguard.store.outbox import OutboxItem
from mailguard.store.sqlite import SqliteStore
from storetools import statements

T0 = 1_800_000_000.0
DAY = 86400


def run(coro):
    return asyncio.run(coro)


def item(n: int, created: float = T0, **kw) -> OutboxItem:
    return OutboxItem(id=f"O{n}", sender="postmaster@mx.example.vn", rcpts=(f"abuse{n}@isp.example", "x@isp.example"),
                      raw=f"message {n}\r\n".encode(), created=created, next_try=created, purpose="arf", **kw)


async def one(store: SqliteStore, item_id: str) -> OutboxItem:
    (found,) = [i for i in await store.outbox(1000) if i.id == item_id]
    return found


def test_due_oldest_first_with_raw_and_only_when_due(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.enqueue(item(2, created=T0 + 2))
            await store.enqueue(item(1, created=T0 + 1))
            await store.enqueue(item(3, created=T0 + 3))
            due = await store.due(T0 + 2)
            assert [i.id for i in due] == ["O1", "O2"]
            assert due[0] == item(1, created=T0 + 1) and due[0].raw == b"message 1\r\n"
            assert [i.id for i in await store.due(T0 + 9, limit=1)] == ["O1"]
            listed = await store.outbox()
            assert [i.id for i in listed] == ["O3", "O2", "O1"] and all(i.raw == b"" for i in listed)
            with pytest.raises(DuplicateId):
                await store.enqueue(item(1, created=T0 + 50))
            assert (await one(store, "O1")).created == T0 + 1

    run(go())


def test_created_zero_is_stored_as_now(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            before = time.time()
            await store.enqueue(OutboxItem(id="A", sender="", rcpts=("a@b.example",), raw=b"x"))
            got = await one(store, "A")
            assert before <= got.created <= time.time() and got.next_try == 0.0 and got.sender == ""
            assert [i.id for i in await store.due(before)] == ["A"]

    run(go())


def test_attempt_states(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            for n in (1, 2, 3):
                await store.enqueue(item(n))
            # 4xx: stays queued, due again at next_try
            await store.record_attempt("O1", "RCPT <a>: 451 try later", T0 + 1, T0 + 61, sent=False)
            got = await one(store, "O1")
            assert (got.state, got.tries, got.next_try, got.last_reply, got.last_try) == (
                "queued", 1, T0 + 61, "RCPT <a>: 451 try later", T0 + 1)
            assert "O1" not in [i.id for i in await store.due(T0 + 60)]
            assert "O1" in [i.id for i in await store.due(T0 + 61)]
            await store.record_attempt("O1", "DATA: 250 ok", T0 + 61, None, sent=True)
            # 5xx: failed at once
            await store.record_attempt("O2", "MAIL: 550 no", T0 + 2, None, sent=False)
            states = {i.id: (i.state, i.tries) for i in await store.outbox()}
            assert states == {"O1": ("sent", 2), "O2": ("failed", 1), "O3": ("queued", 0)}
            assert [i.id for i in await store.due(T0 + 10 ** 6)] == ["O3"]
            # an item no longer queued is left as it is
            await store.record_attempt("O1", "DATA: 250 again", T0 + 99, None, sent=True)
            assert (await one(store, "O1")).tries == 2

    run(go())


def test_claim_takes_a_due_item_once(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store, SqliteStore(tmp_path / DB_NAME) as other:
            await store.enqueue(item(1))
            assert await store.claim("O1", T0 - 1, T0 + 100) is False  # not due yet
            results = await asyncio.gather(store.claim("O1", T0, T0 + 100), other.claim("O1", T0, T0 + 100))
            assert sorted(results) == [False, True]
            assert (await one(store, "O1")).next_try == T0 + 100
            assert await store.due(T0 + 99) == []
            # a claim that lapsed (its worker died) leaves the item due again
            assert [i.id for i in await store.due(T0 + 100)] == ["O1"]
            await store.record_attempt("O1", "DATA: 250 ok", T0 + 1, None, sent=True)
            assert await store.claim("O1", T0 + 200, T0 + 300) is False
            assert await store.claim("nope", T0, T0 + 1) is False

    run(go())


def test_queued_items_survive_reopening(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.enqueue(item(1))
            await store.record_attempt("O1", "no connection", T0 + 1, T0 + 60, sent=False)
        async with SqliteStore(tmp_path / DB_NAME) as store:
            (got,) = await store.due(T0 + 60)
            assert (got.id, got.tries, got.raw, got.rcpts) == ("O1", 1, b"message 1\r\n", item(1).rcpts)

    run(go())


def test_outbox_commits_are_durable(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            with statements(store) as seen:
                await store.enqueue(item(1))
                await store.claim("O1", T0, T0 + 5)
                await store.record_attempt("O1", "DATA: 250 ok", T0 + 1, None, sent=True)
            for op in ("INSERT INTO outbox", "UPDATE outbox SET next_try", "UPDATE outbox SET tries"):
                i = next(n for n, s in enumerate(seen) if s.startswith(op))
                assert "PRAGMA synchronous = FULL" in seen[max(0, i - 3):i], op

    run(go())


def test_purge_drops_sent_and_failed_after_history_days_never_queued(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME, history_days=180) as store:
            for n in (1, 2, 3):
                await store.enqueue(item(n))
            await store.record_attempt("O1", "DATA: 250 ok", T0 + 10, None, sent=True)
            await store.record_attempt("O2", "MAIL: 550 no", T0 + 20, None, sent=False)
            assert await store.purge_outbox(now=T0 + 10 + 180 * DAY) == 0
            assert await store.purge_outbox(now=T0 + 15 + 180 * DAY) == 1
            assert await store.purge_outbox(now=T0 + 400 * DAY) == 1
            assert [(i.id, i.state) for i in await store.outbox()] == [("O3", "queued")]

    run(go())


# --- the worker's schedule, without SMTP --------------------------------------------------------

class ScriptedWorker(OutboxWorker):
    """deliver() answers from a script; the clock is the test's."""

    def __init__(self, store, outcomes, clock):
        super().__init__(store, HostPort("127.0.0.1", 9), "mx.example.vn", first_retry=60.0, max_retry=6 * 3600.0,
                         give_up_after=5 * DAY, attempt_timeout=30.0, clock=clock)
        self.outcomes = list(outcomes)
        self.delivered: list[str] = []

    async def deliver(self, item):
        self.delivered.append(item.id)
        return self.outcomes.pop(0) if self.outcomes else Outcome("451 4.3.0 later")


def test_backoff_doubles_to_the_maximum_then_gives_up_after_five_days(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            now = [T0]
            w = ScriptedWorker(store, [], lambda: now[0])
            await store.enqueue(item(1))
            delays = []
            while True:
                assert await w.send_due() == 0
                got = await one(store, "O1")
                if got.state != "queued":
                    break
                delays.append(got.next_try - now[0])
                now[0] = got.next_try
            assert delays[:10] == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]
            assert set(delays[9:]) == {21600}
            assert got.state == "failed" and now[0] - T0 >= 5 * DAY and now[0] - T0 < 5 * DAY + 21600
            assert got.tries == len(delays) + 1 and got.last_reply == "451 4.3.0 later"

    run(go())


def test_5xx_fails_at_once_and_250_is_sent(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = ScriptedWorker(store, [Outcome("RCPT <a>: 550 no", permanent=True), Outcome("DATA: 250 ok", sent=True)],
                               lambda: T0 + 5)
            await store.enqueue(item(1))
            await store.enqueue(item(2, created=T0 + 1))
            assert await w.send_due() == 1
            assert w.delivered == ["O1", "O2"]
            states = {i.id: (i.state, i.tries, i.last_reply) for i in await store.outbox()}
            assert states == {"O1": ("failed", 1, "RCPT <a>: 550 no"), "O2": ("sent", 1, "DATA: 250 ok")}
            assert await w.send_due() == 0 and w.delivered == ["O1", "O2"]

    run(go())


def test_an_item_claimed_elsewhere_is_not_sent(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = ScriptedWorker(store, [Outcome("DATA: 250 ok", sent=True)], lambda: T0)
            await store.enqueue(item(1))
            real_due = store.due

            async def due_then_taken(now, limit=100):
                found = await real_due(now, limit)
                await store.claim("O1", now, now + 600)  # another worker, between due and claim
                return found

            store.due = due_then_taken
            assert await w.send_due() == 0 and w.delivered == []

    run(go())


def test_stop_ends_an_idle_worker_at_once(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = OutboxWorker(store, HostPort("127.0.0.1", 9), "mx.example.vn", idle_poll=600.0)
            task = w.start()
            await asyncio.sleep(0.1)
            started = time.monotonic()
            await w.stop()
            assert task.done() and not task.cancelled() and time.monotonic() - started < 1.0

    run(go())


def test_the_server_purge_loop_runs_every_purge_even_when_one_fails():
    from mailguard.smtp import server

    class FakeStore:
        def __init__(self):
            self.called: list[str] = []
            self.done = asyncio.Event()

        def __getattr__(self, name):
            async def purge(now=None):
                self.called.append(name)
                if name == "purge_reports":
                    raise OSError("disk trouble")
                if name == "purge_quarantine":
                    self.done.set()
                return 1
            return purge

    async def go():
        store = FakeStore()
        task = asyncio.create_task(server._purge_history_daily(store))
        await asyncio.wait_for(store.done.wait(), 5)
        task.cancel()
        assert store.called == ["purge_history", "purge_ledger", "purge_reports", "purge_sources", "purge_outbox",
                                "purge_quarantine"]

    run(go())
