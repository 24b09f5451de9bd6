"""The flow's report desk with `deliver_reports`: the report is also relayed downstream, and a
relay the downstream refused leaves no report behind (the client's retry brings it again)."""
from __future__ import annotations

import asyncio

import reportshapes as shapes
from mailguard.checks.registry import build_pipeline
from mailguard.config import from_text
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts
from mailguard.smtp.replies import Reply
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore

CONFIG = ('[reports]\nspam_addresses = ["abuse@test.example"]\nlocal_domains = ["test.example"]\n'
          'deliver_reports = {deliver}\n')


async def report_once(store, deliver: bool, reply: Reply, tag: str):
    cfg = from_text(CONFIG.format(deliver="true" if deliver else "false"))
    services = ScanServices(cfg, build_pipeline(cfg, offline=True), store=store)
    tasks = []
    flow = MessageFlow(services, ClientFacts(ip="127.0.0.1"), spawn=lambda c: tasks.append(asyncio.ensure_future(c)))
    await flow.mail("user@test.example", smtputf8=False)
    at_rcpt = await flow.rcpt("abuse@test.example")
    if at_rcpt is None:
        flow.accepted("abuse@test.example")
    raw = shapes.thunderbird_attached(shapes.spam_original(subject=f"prize {tag}"), "user@test.example",
                                      "abuse@test.example")
    outcome = await flow.data(raw)
    flow.finished(outcome, outcome.reply if outcome.kind is Kind.TAKEN else reply)
    await asyncio.gather(*tasks)
    return at_rcpt, outcome


def test_taken_by_default_relayed_with_deliver_reports_and_undone_when_the_downstream_refused(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            at_rcpt, outcome = await report_once(store, False, Reply(250, "2.0.0 Ok"), "a")
            assert at_rcpt.code == 250 and outcome.kind is Kind.TAKEN  # the RCPT never went downstream
            at_rcpt, outcome = await report_once(store, True, Reply(451, "4.3.0 try again"), "b")
            assert at_rcpt is None and outcome.kind is Kind.DELIVER and outcome.report is not None
            assert [r.subject for r in await store.reports()] == ["prize a"]  # b was undone
            at_rcpt, outcome = await report_once(store, True, Reply(250, "2.0.0 Ok: queued"), "b")
            assert sorted(r.subject for r in await store.reports()) == ["prize a", "prize b"]
            acks = [i for i in await store.outbox() if i.purpose == "ack"]
            assert len(acks) == 2  # acted on once delivered, not when refused

    asyncio.run(go())
