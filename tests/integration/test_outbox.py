"""The outbox worker (mailguard/reports/outbox_worker.py) against Postfix's smtp-sink as the relay:
4xx then 250, 5xx, the relay down then up, and a restart with mail queued while no relay was up."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mailguard.config import HostPort
from mailguard.reports.outbox_worker import OutboxWorker
from mailguard.store.backends import DB_NAME
from mailguard.store.outbox import OutboxItem
from mailguard.store.sqlite import SqliteStore

from realservers import SmtpSink, free_port


def item(n: int, rcpts: tuple[str, ...] = ("abuse@isp.example",)) -> OutboxItem:
    raw = (f"From: mailguard <postmaster@mx.test.example>\r\nTo: {rcpts[0]}\r\nSubject: report {n}\r\n"
           f"Message-ID: <outbox-{n}@mx.test.example>\r\n\r\nreport body {n}\r\n.leading dot\r\n").encode()
    return OutboxItem(id=f"O{n}", sender="postmaster@mx.test.example", rcpts=rcpts, raw=raw,
                      created=time.time(), purpose="arf")


def sink(base: Path, port: int, *options: str) -> SmtpSink:
    """An smtp-sink on `port` that dumps every message it takes into base/mail.* (one file each)."""
    s = SmtpSink(base, port, ["-d", str(base / "mail."), *options])
    s.start()
    return s


def dumped(base: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(base.glob("mail.*"))]


def worker(store: SqliteStore, port: int, **kw) -> OutboxWorker:
    kw.setdefault("first_retry", 0.3)
    kw.setdefault("attempt_timeout", 10.0)
    kw.setdefault("idle_poll", 0.5)
    return OutboxWorker(store, HostPort("127.0.0.1", port), "mx.test.example", **kw)


async def state_of(store: SqliteStore, item_id: str) -> OutboxItem:
    (found,) = [i for i in await store.outbox(1000) if i.id == item_id]
    return found


async def until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_4xx_then_250_is_retried_and_sent_once(tmp_path):
    port = free_port()
    soft = sink(tmp_path / "soft", port, "-r", "rcpt")

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = worker(store, port)
            w.start()
            await store.enqueue(item(1))
            w.wake()
            first = await until(lambda: _tried(store, "O1", 1), what="the first attempt")
            assert first.state == "queued" and first.last_reply.startswith("RCPT <abuse@isp.example>: 4")
            soft.stop()
            good = sink(tmp_path / "good", port)
            try:
                done = await until(lambda: _in_state(store, "O1", "sent"), what="the item sent")
                assert done.tries >= 2 and done.last_reply.startswith("DATA: 250")
                await asyncio.sleep(1.0)  # a few more passes: nothing goes twice
                assert (await state_of(store, "O1")).tries == done.tries
                assert await store.due(time.time() + 10 ** 6) == []
            finally:
                await w.stop()
                good.stop()
        mails = dumped(tmp_path / "good")
        assert len(mails) == 1 and b"report body 1" in mails[0] and b"\n.leading dot\n" in mails[0]  # unstuffed again
        assert dumped(tmp_path / "soft") == []

    asyncio.run(go())


def test_a_new_item_goes_out_at_once_when_the_worker_is_woken(tmp_path):
    port = free_port()
    s = sink(tmp_path / "sink", port)

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = worker(store, port, idle_poll=60.0)
            w.start()
            await asyncio.sleep(0.3)  # the worker found nothing and sleeps for a minute
            await store.enqueue(item(2))
            started = time.monotonic()
            w.wake()
            await until(lambda: _in_state(store, "O2", "sent"), timeout=10.0, what="the item sent")
            assert time.monotonic() - started < 5.0
            await w.stop()

    try:
        asyncio.run(go())
    finally:
        s.stop()
    assert len(dumped(tmp_path / "sink")) == 1


def test_5xx_fails_at_once_and_is_not_retried(tmp_path):
    port = free_port()
    s = sink(tmp_path / "sink", port, "-f", "rcpt")

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = worker(store, port)
            w.start()
            await store.enqueue(item(3, rcpts=("a@isp.example", "b@isp.example")))
            w.wake()
            failed = await until(lambda: _in_state(store, "O3", "failed"), what="the item failed")
            assert failed.tries == 1
            assert "RCPT <a@isp.example>: 5" in failed.last_reply and "RCPT <b@isp.example>: 5" in failed.last_reply
            await asyncio.sleep(1.5)  # five retry delays: still one attempt
            assert (await state_of(store, "O3")).tries == 1
            await w.stop()

    try:
        asyncio.run(go())
    finally:
        s.stop()
    assert dumped(tmp_path / "sink") == []


def test_a_5xx_at_the_final_dot_fails_it_too(tmp_path):
    port = free_port()
    s = sink(tmp_path / "sink", port, "-f", ".")

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = worker(store, port)
            w.start()
            await store.enqueue(item(4))
            w.wake()
            failed = await until(lambda: _in_state(store, "O4", "failed"), what="the item failed")
            assert failed.tries == 1 and failed.last_reply.startswith("DATA: 5")
            await w.stop()

    try:
        asyncio.run(go())
    finally:
        s.stop()


def test_relay_down_then_up(tmp_path):
    port = free_port()  # nothing listens there yet

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            w = worker(store, port, first_retry=0.2, max_retry=0.5)
            w.start()
            await store.enqueue(item(5))
            w.wake()
            down = await until(lambda: _tried(store, "O5", 2), what="two attempts without a relay")
            assert down.state == "queued" and down.last_reply.startswith("no connection to 127.0.0.1:")
            s = sink(tmp_path / "sink", port)
            try:
                sent = await until(lambda: _in_state(store, "O5", "sent"), what="the item sent")
                assert sent.tries >= 3 and sent.last_reply.startswith("DATA: 250")
            finally:
                await w.stop()
                s.stop()

    asyncio.run(go())
    assert len(dumped(tmp_path / "sink")) == 1


def test_items_queued_without_a_relay_survive_a_restart_and_go_out_after(tmp_path):
    port = free_port()
    path = tmp_path / DB_NAME

    async def before_restart():
        async with SqliteStore(path) as store:
            w = worker(store, port)
            w.start()
            for n in (10, 11, 12):
                await store.enqueue(item(n))
            w.wake()
            for n in (10, 11, 12):
                await until(lambda: _tried(store, f"O{n}", 1), what=f"O{n} tried")
            await w.stop()
        # nothing went out, and the store is closed with the three items queued

    async def after_restart():
        async with SqliteStore(path) as store:
            assert {i.id: i.state for i in await store.outbox()} == {"O10": "queued", "O11": "queued", "O12": "queued"}
            w = worker(store, port)
            w.start()
            try:
                for n in (10, 11, 12):
                    await until(lambda: _in_state(store, f"O{n}", "sent"), what=f"O{n} sent")
            finally:
                await w.stop()

    asyncio.run(before_restart())
    s = sink(tmp_path / "sink", port)
    try:
        asyncio.run(after_restart())
    finally:
        s.stop()
    mails = dumped(tmp_path / "sink")
    assert len(mails) == 3 and all(any(f"report body {n}".encode() in m for m in mails) for n in (10, 11, 12))


async def _tried(store: SqliteStore, item_id: str, tries: int) -> OutboxItem | None:
    found = await state_of(store, item_id)
    return found if found.tries >= tries else None


async def _in_state(store: SqliteStore, item_id: str, state: str) -> OutboxItem | None:
    found = await state_of(store, item_id)
    return found if found.state == state else None
