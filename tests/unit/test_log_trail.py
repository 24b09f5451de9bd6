"""The log trail and our refusal texts, through the flow every front end drives: one line per
refusal and per message, its id the reply's and the history row's, never the message itself.
Through the real proxy and Postfix: tests/integration/test_log_trail_proxy.py."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from mailguard import config as config_mod
from mailguard import reasons, trail
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts
from mailguard.scan.pipeline import Check, Pipeline
from mailguard.scan.verdict import Action, Symbol, decide
from mailguard.smtp.replies import Reply
from mailguard.store.backends import DB_NAME
from mailguard.store.sqlite import SqliteStore

SUBJECT_MARK, BODY_MARK = "subject-3f9a1c", "body-77d2e0"
RAW = f"From: a@outside.example\r\nSubject: {SUBJECT_MARK}\r\n\r\n{BODY_MARK}\r\n".encode()
CONFIG = config_mod.from_text('''
[[lists.file]]
name = "national"
path = "/dev/null"
reject = true

[[dnsbl.zone]]
zone = "refuse.test"
kind = "ip"
codes = ["127.0.0.2=REFUSE_SPAM:3.0"]
reject = true
''')


def refused_by(name: str, score: float = 0.0):
    return decide([Symbol(name, score, "", force=Action.REJECT), Symbol("BAYES_SPAM", 2.5)], CONFIG.actions)


@pytest.mark.parametrize("forcing, text", [
    ("DMARC_FAIL_REJECT", "Message rejected: DMARC policy of the sender's domain"),
    ("LIST_NATIONAL", "Message rejected: sender or client on our block list"),
    ("REPORTED_SOURCE", "Message rejected: sender or client on our block list"),
    ("REFUSE_SPAM", "Message rejected: client address on a DNS blocklist"),
    ("GTUBE", "Message rejected as spam"),
    ("SITE_RULE", "Message rejected as spam"),  # a rule's forced reject is about the content
])
def test_a_refusal_names_its_reason_class_and_the_id_and_no_symbol(forcing, text):
    reply, _ = reasons.refusal(refused_by(forcing), CONFIG, "8769052AB077")
    assert reply == Reply(550, f"5.7.1 {text} (id 8769052AB077)")


def test_reply_symbols_adds_the_names_and_a_score_alone_is_spam():
    verdict = decide([Symbol("BAYES_SPAM", 9.0), Symbol("SITE_RULE", 7.0)], CONFIG.actions)
    assert verdict.action is Action.REJECT and verdict.forced is None
    named = CONFIG.replace("server", reply_symbols=True)
    assert reasons.refusal(verdict, named, "ID1")[0].text == "5.7.1 Message rejected as spam (BAYES_SPAM, SITE_RULE; id ID1)"
    assert reasons.refusal(verdict, named, "ID1", at_rcpt=True)[0].text == \
        "5.7.1 Recipient refused by policy (BAYES_SPAM, SITE_RULE; id ID1)"


def flow_with(store, tasks: list, data_symbols=(), rcpt_symbols=()) -> MessageFlow:
    async def at_rcpt(ctx):
        return list(rcpt_symbols)

    async def at_data(ctx):
        return list(data_symbols)

    pipeline = Pipeline((Check("EARLY", at_rcpt, 1.0, "rcpt"), Check("LATE", at_data, 1.0)), CONFIG.actions, 5.0)
    return MessageFlow(ScanServices(CONFIG, pipeline, store=store), ClientFacts(ip="192.0.2.7", name="mx.outside.example"),
                       spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)))


def trail_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mailguard.trail"]


def test_a_refusal_at_rcpt_and_one_after_data_are_one_line_each_with_the_id_of_the_reply(tmp_path, caplog):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            tasks: list = []
            flow = flow_with(store, tasks, data_symbols=[Symbol("GTUBE", 1000.0, "", force=Action.REJECT)])
            await flow.mail("a@outside.example", smtputf8=False)
            assert await flow.rcpt("user@test.example") is None
            flow.accepted("user@test.example")
            outcome = await flow.data(RAW)
            flow.finished(outcome, outcome.reply)
            await asyncio.gather(*tasks)
            return outcome, await store.history()

    with caplog.at_level(logging.INFO):
        outcome, rows = asyncio.run(go())
    assert outcome.kind is Kind.REJECT
    queue_id = outcome.ctx.facts.queue_id
    assert outcome.reply == Reply(550, f"5.7.1 Message rejected as spam (id {queue_id})")
    (line,) = trail_lines(caplog)
    assert line.getMessage() == (
        f"{queue_id} refused at data: client=mx.outside.example[192.0.2.7] from=<a@outside.example> "
        f"to=<user@test.example> reason=spam action=reject score=1000.00 symbols=GTUBE(1000.00) size={len(RAW)} "
        f"scan_ms={line.scan_ms:.1f} total_ms={line.total_ms:.1f} reply=\"550 {outcome.reply.text}\"")
    assert (line.id, line.sender, line.rcpts, line.reason, line.symbols) == \
        (queue_id, "a@outside.example", ["user@test.example"], "spam", {"GTUBE": 1000.0})
    (row,) = rows
    assert row.queue_id == queue_id and row.outcome == f"550 {outcome.reply.text}"
    assert SUBJECT_MARK not in caplog.text and BODY_MARK not in caplog.text  # the history has the subject


def test_rcpt_refusals_ours_and_the_downstreams_and_a_mail_refusal_each_get_a_line_and_a_row(tmp_path, caplog):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            tasks: list = []
            flow = flow_with(store, tasks, rcpt_symbols=[Symbol("LIST_NATIONAL", 10.0, "sender matches", Action.REJECT)])
            flow.refused("mail", Reply(550, "5.1.8 <x@bad.example>: Sender address rejected"), reasons.DOWNSTREAM,
                         sender="x@bad.example")
            await flow.mail("a@outside.example", smtputf8=False)
            queue_id = flow.txn.queue_id
            ours = await flow.rcpt("user@test.example")
            flow.refused("rcpt", Reply(550, "5.1.1 <nobody@test.example>: User unknown"), reasons.DOWNSTREAM,
                         rcpt="nobody@test.example")
            await asyncio.gather(*tasks)
            return queue_id, ours, await store.history()

    with caplog.at_level(logging.INFO):
        queue_id, ours, rows = asyncio.run(go())
    assert ours == Reply(550, f"5.7.1 Recipient refused: sender or client on our block list (id {queue_id})")
    lines = trail_lines(caplog)
    assert [(r.stage, r.sender, r.rcpts, r.reason, r.result) for r in lines] == [
        ("mail", "x@bad.example", [], "downstream", "refused"),
        ("rcpt", "a@outside.example", ["user@test.example"], "blocklist", "refused"),
        ("rcpt", "a@outside.example", ["nobody@test.example"], "downstream", "refused"),
    ]
    assert lines[1].id == lines[2].id == queue_id != lines[0].id  # one id per transaction
    assert "symbols=LIST_NATIONAL(10.00)" in lines[1].getMessage()
    by_rcpt = {row.rcpts: row for row in rows}
    assert by_rcpt[()].mail_from == "x@bad.example" and by_rcpt[()].outcome.startswith("550 5.1.8")
    assert by_rcpt[("user@test.example",)].outcome == f"550 {ours.text}"
    assert by_rcpt[("nobody@test.example",)].action == "reject" and by_rcpt[("nobody@test.example",)].queue_id == queue_id


def test_json_lines_carry_the_same_fields():
    entry = trail.Entry("8769052AB077", "refused", "rcpt", "192.0.2.7", None, "a@outside.example",
                        ("user@test.example",), Reply(550, "5.7.1 Recipient refused by policy (id 8769052AB077)"),
                        reasons.BLOCKLIST, refused_by("LIST_NATIONAL", 10.0))
    record = logging.LogRecord("mailguard.trail", logging.INFO, __file__, 1, "%s", (entry.text(),), None)
    record.__dict__.update(entry.fields())
    found = json.loads(trail.formatter("json").format(record))
    assert found["message"] == entry.text() and found["level"] == "INFO" and found["logger"] == "mailguard.trail"
    assert (found["id"], found["sender"], found["rcpts"], found["reason"], found["action"]) == \
        ("8769052AB077", "a@outside.example", ["user@test.example"], "blocklist", "reject")
    assert found["symbols"] == {"LIST_NATIONAL": 10.0, "BAYES_SPAM": 2.5} and found["client_name"] is None
    assert found["reply"] == "550 5.7.1 Recipient refused by policy (id 8769052AB077)"
