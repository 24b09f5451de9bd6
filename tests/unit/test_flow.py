"""The message flow every front end drives: recipients, outcomes, quarantine, recording."""
from __future__ import annotations

import asyncio

from mailguard.config import Config
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts
from mailguard.scan.pipeline import Check, Pipeline
from mailguard.scan.verdict import Symbol
from mailguard.smtp.replies import Reply
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore

RAW = b"From: a@outside.example\r\nSubject: offer\r\n\r\nbody\r\n"


def services(store, score: float) -> ScanServices:
    config = Config()

    async def check(ctx):
        return [Symbol("TEST_SCORE", score)]

    pipeline = Pipeline((Check("TEST", check, budget=1.0),), config.actions, deadline=5.0)
    return ScanServices(config, pipeline, store=store, hostname="mailguard.test")


def test_a_quarantine_id_already_taken_gets_a_new_one_and_both_are_kept(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            flows = [MessageFlow(services(store, 13.0), ClientFacts(ip="192.0.2.7")) for _ in range(2)]
            outcomes = []
            for flow in flows:
                await flow.mail("a@outside.example", smtputf8=False)
                assert await flow.rcpt("user@test.example") is None
                flow.accepted("user@test.example")
                outcomes.append(await flow.data(RAW, queue_id="SAMEID"))
            assert [o.kind for o in outcomes] == [Kind.QUARANTINE, Kind.QUARANTINE]
            first, second = (o.reply.text.rsplit(" ", 1)[1] for o in outcomes)
            assert first == "SAMEID" and second != "SAMEID"
            assert {r.queue_id for r in await store.quarantine_list()} == {"SAMEID", second}

    asyncio.run(go())


def test_deliver_outcome_carries_our_fields_and_nothing_is_recorded_when_read_only(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            flow = MessageFlow(services(store, 9.0), ClientFacts(ip="192.0.2.7"), record=False)
            await flow.mail("a@outside.example", smtputf8=False)
            assert await flow.rcpt("user@test.example") is None
            flow.accepted("user@test.example")
            outcome = await flow.data(RAW)
            assert outcome.kind is Kind.DELIVER and outcome.subject_tag == "***SPAM***"
            assert any(h.startswith("X-Spam-Flag: YES") for h in outcome.headers)
            assert outcome.headers[0].startswith("Received: from ")
            assert await store.history() == [] and await store.quarantine_list() == []

    asyncio.run(go())


def test_a_recipient_refused_at_rcpt_gets_a_history_row_with_the_reply(tmp_path):
    from mailguard.scan.verdict import Action

    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            config = Config()

            async def listed(ctx):
                return [Symbol("TEST_LISTED", 0.0, "client listed", force=Action.REJECT)]

            pipeline = Pipeline((Check("TEST", listed, budget=1.0, phase="rcpt"),), config.actions, deadline=5.0)
            tasks = []
            flow = MessageFlow(ScanServices(config, pipeline, store=store), ClientFacts(ip="192.0.2.7"),
                               spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)))
            await flow.mail("a@outside.example", smtputf8=False)
            queue_id = flow.txn.queue_id
            reply = await flow.rcpt("user@test.example")
            assert reply == Reply(550, f"5.7.1 Recipient refused by policy (id {queue_id})")
            await asyncio.gather(*tasks)
            (row,) = await store.history()
            assert row.rcpts == ("user@test.example",) and row.mail_from == "a@outside.example"
            assert row.queue_id == queue_id and row.action == "reject" and row.outcome == f"550 {reply.text}"
            assert [s.name for s in row.symbols] == ["TEST_LISTED"] and row.client_ip == "192.0.2.7"

    asyncio.run(go())
