"""The flow's advertising step (Decree 91/2020): the 24-hour ledger per recipient, refusals, the
X-Advertising header, outbound refusals — with the real ADVERTISING check and a real store."""
from __future__ import annotations

import asyncio

import pytest

from mailguard.advertising.delivery import header_value, limit_for, parse_header
from mailguard.advertising.findings import AdFindings
from mailguard.advertising.spec import Agreement, AdvertisingSettings
from mailguard.checks.registry import build_pipeline
from mailguard.config import from_text
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts
from mailguard.store.backends import DB_NAME
from mailguard.store.refusals import Refusal
from mailguard.store.sqlite import SqliteStore
from adtools import ad

DAY = 24 * 3600


def config(tmp_path, **advertising):
    lines = ['domains = ["test.example"]'] + [f"{k} = {v}" for k, v in advertising.items()]
    return from_text("[advertising]\n" + "\n".join(lines) + "\n", base_dir=tmp_path)


class Harness:
    """The flow with the real pipeline (offline) and store; background work collected to await."""

    def __init__(self, cfg, store) -> None:
        self.services = ScanServices(cfg, build_pipeline(cfg, offline=True), store=store, hostname="mailguard.test")
        self.tasks: list[asyncio.Future] = []

    def spawn(self, coro) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def settle(self) -> None:
        while self.tasks:
            await self.tasks.pop(0)

    async def send(self, rcpts, raw, sender="news@shop.example"):
        flow = MessageFlow(self.services, ClientFacts(ip="192.0.2.7"), spawn=self.spawn)
        await flow.mail(sender, smtputf8=False)
        replies = {}
        for rcpt in rcpts:
            replies[rcpt] = await flow.rcpt(rcpt)
            if replies[rcpt] is None:
                flow.accepted(rcpt)
        outcome = await flow.data(raw) if flow.txn.rcpts else None
        return outcome, replies, flow


def test_the_fourth_ad_in_24_hours_is_held_for_that_recipient_only(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path), store)
            counts = []
            for n in range(3):
                outcome, _, flow = await svc.send(["user@test.example"], ad(n=n))
                assert outcome.kind is Kind.DELIVER and outcome.rcpts is None
                header = next(h for h in outcome.headers if h.startswith("X-Advertising:"))
                counts.append(parse_header(header.partition(":")[2].strip())["count"])
                flow.finished(outcome, _ok())
                await svc.settle()
            assert counts == ["1/3", "2/3", "3/3"]
            outcome, _, flow = await svc.send(["user@test.example", "other@test.example"], ad(n=4))
            assert outcome.kind is Kind.DELIVER and outcome.rcpts == ("other@test.example",)
            header = next(h for h in outcome.headers if h.startswith("X-Advertising:"))
            assert parse_header(header.partition(":")[2].strip())["count"] == "1/3"
            flow.finished(outcome, _ok())
            await svc.settle()
            held = await store.quarantine_list()
            assert [r.rcpts for r in held] == [("user@test.example",)]
            assert "AD_OVER_DAILY_LIMIT" in {s.name for s in held[0].symbols}

    asyncio.run(go())


def test_slots_of_a_message_the_downstream_refused_are_given_back(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, daily_limit=1), store)
            outcome, _, flow = await svc.send(["user@test.example"], ad())
            flow.finished(outcome, _refused())
            await svc.settle()
            outcome, _, flow = await svc.send(["user@test.example"], ad(n=1))
            assert outcome.kind is Kind.DELIVER and outcome.rcpts is None  # the slot came back
            flow.reset()  # the session failed before an answer: released too
            await svc.settle()
            outcome, _, flow = await svc.send(["user@test.example"], ad(n=2))
            assert outcome.kind is Kind.DELIVER

    asyncio.run(go())


def test_an_ad_to_a_recipient_over_the_limit_alone_is_quarantined_not_refused(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, daily_limit=1), store)
            outcome, _, flow = await svc.send(["user@test.example"], ad())
            flow.finished(outcome, _ok())
            await svc.settle()
            outcome, _, flow = await svc.send(["user@test.example"], ad(n=1))
            assert outcome.kind is Kind.QUARANTINE and outcome.reply.code == 250

    asyncio.run(go())


def test_a_refusal_of_the_envelope_domain_refuses_at_rcpt_and_others_still_get_it(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_refusal(Refusal("user@test.example", "shop.example", 0.0, "command"))
            svc = Harness(config(tmp_path), store)
            outcome, replies, _ = await svc.send(["User@Test.Example", "other@test.example"], ad())
            assert replies["User@Test.Example"].code == 550
            assert "Decree 91/2020 Art. 20" in replies["User@Test.Example"].text
            assert replies["other@test.example"] is None and outcome.kind is Kind.DELIVER
            await svc.settle()
            rows = await store.history()  # the refusal is in the history, with the reply given
            assert [(r.rcpts, r.outcome[:9], r.symbols[0].name) for r in rows] == [
                (("User@Test.Example",), "550 5.7.1", "AD_AFTER_REFUSAL")]

    asyncio.run(go())


def test_a_refusal_of_the_from_advertiser_holds_the_ad_after_data(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            await store.add_refusal(Refusal("user@test.example", "shop.example", 0.0, "command"))
            svc = Harness(config(tmp_path), store)
            # Sent through an ESP: the envelope domain is the ESP's, the advertiser is in From.
            outcome, replies, _ = await svc.send(["user@test.example", "other@test.example"], ad(),
                                             sender="bounce-1@esp.example")
            assert replies == {"user@test.example": None, "other@test.example": None}
            assert outcome.kind is Kind.DELIVER and outcome.rcpts == ("other@test.example",)
            held = await store.quarantine_list()
            assert "AD_AFTER_REFUSAL" in {s.name for s in held[0].symbols}

    asyncio.run(go())


def test_decree_domains_are_never_mixed_with_others_in_one_transaction(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path), store)
            _, replies, _ = await svc.send(["user@test.example", "someone@elsewhere.example"], ad())
            assert replies["user@test.example"] is None
            assert replies["someone@elsewhere.example"].code == 452

    asyncio.run(go())


@pytest.mark.parametrize("subject, article", [
    ("Giảm giá 50% toàn bộ cửa hàng", "Art. 18"),
    ("[ADV] Giảm giá 50% toàn bộ cửa hàng", "Art. 18"),
])
def test_outbound_mode_refuses_an_unlabelled_ad_naming_the_article(tmp_path, subject, article):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, outbound="true"), store)
            outcome, _, _ = await svc.send(["user@test.example"], ad(subject))
            assert outcome.kind is Kind.REJECT and outcome.reply.code == 550
            assert article in outcome.reply.text and "[QC]" in outcome.reply.text

    asyncio.run(go())


def test_outbound_mode_refuses_the_ad_over_the_limit(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, outbound="true", daily_limit=1), store)
            outcome, _, flow = await svc.send(["user@test.example"], ad())
            flow.finished(outcome, _ok())
            await svc.settle()
            outcome, _, _ = await svc.send(["user@test.example"], ad(n=1))
            assert outcome.kind is Kind.REJECT and "Art. 13" in outcome.reply.text

    asyncio.run(go())


def test_label_subject_puts_the_label_first(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, label_subject="true"), store)
            outcome, _, _ = await svc.send(["user@test.example"], ad("Giảm giá 50% toàn bộ cửa hàng"))
            assert outcome.kind is Kind.DELIVER and outcome.subject_tag.startswith("[QC] ")
            assert "label=missing" in next(h for h in outcome.headers if h.startswith("X-Advertising:"))

    asyncio.run(go())


def test_the_most_specific_agreement_sets_the_limit():
    settings = AdvertisingSettings(agreement=(
        Agreement("@test.example", "*", 5),
        Agreement("@test.example", "shop.example", 7),
        Agreement("user@test.example", "*", 10),
        Agreement("user@test.example", "news.shop.example", "unlimited"),
    ))
    assert limit_for(settings, "user@test.example", "shop.example") is None
    assert limit_for(settings, "user@test.example", "other.example") == 10
    assert limit_for(settings, "bob@test.example", "shop.example") == 7
    assert limit_for(settings, "bob@test.example", "other.example") == 5
    assert limit_for(settings, "bob@elsewhere.example", "shop.example") == 3


def test_the_header_grammar_parses_back_and_refuses_what_is_not_in_it():
    findings = AdFindings(("label [QC]",), "QC", "", "header", True, "shop.example", True)
    value = header_value(findings, 2, 3)
    assert value == "yes; label=QC; optout=header; advertiser=present; count=2/3"
    assert parse_header(value) == {"advertising": "yes", "label": "QC", "optout": "header",
                                   "advertiser": "present", "count": "2/3"}
    assert parse_header(header_value(findings, 9, None))["count"] == "9/unlimited"
    for bad in ("no; label=QC", "yes; label=ADV; optout=header; advertiser=present; count=1/3",
                "yes; label=QC; optout=header; advertiser=present; count=1",
                "yes; label=QC; optout=header; advertiser=present; count=1/3; extra=1"):
        with pytest.raises(ValueError):
            parse_header(bad)


def _ok():
    from mailguard.smtp.replies import Reply

    return Reply(250, "2.0.0 Ok: queued as X")


def _refused():
    from mailguard.smtp.replies import Reply

    return Reply(451, "4.3.0 try again")


def test_a_user_mailing_the_unsubscribe_address_in_outbound_mode_refuses_the_advertiser(tmp_path):
    """The inbound proxy delivers an ad and remembers its mailto: unsubscribe address; the
    submission proxy (outbound mode, same store) sees the user write to it: refused from then on."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            inbound, outbound = Harness(config(tmp_path), store), Harness(config(tmp_path, outbound="true"), store)
            outcome, _, flow = await inbound.send(["user@test.example"], ad())
            flow.finished(outcome, _ok())
            await inbound.settle()
            note = b"From: user@test.example\r\nTo: unsub@shop.example\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n"
            outcome, _, flow = await outbound.send(["Unsub@shop.example"], note, sender="user@test.example")
            assert outcome.kind is Kind.DELIVER
            assert await store.refusals() == []  # not before the message was delivered
            flow.finished(outcome, _ok())
            await outbound.settle()
            assert [(r.recipient, r.advertiser, r.source) for r in await store.refusals()] == [
                ("user@test.example", "shop.example", "unsubscribe")]
            _, replies, _ = await inbound.send(["user@test.example"], ad(n=1))
            assert replies["user@test.example"].code == 550

    asyncio.run(go())


def test_without_outbound_mode_a_message_to_the_unsubscribe_address_refuses_nothing(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            inbound = Harness(config(tmp_path), store)
            outcome, _, flow = await inbound.send(["user@test.example"], ad())
            flow.finished(outcome, _ok())
            await inbound.settle()
            note = b"From: user@test.example\r\nTo: unsub@shop.example\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n"
            outcome, _, flow = await inbound.send(["unsub@shop.example"], note, sender="user@test.example")
            flow.finished(outcome, _ok())
            await inbound.settle()
            assert await store.refusals() == []

    asyncio.run(go())


def test_outside_the_decree_domains_ads_are_counted_but_never_held(tmp_path):
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(from_text("[advertising]\ndaily_limit = 1\n", base_dir=tmp_path), store)
            counts = []
            for n in range(3):
                outcome, _, flow = await svc.send(["user@test.example"], ad(n=n))
                assert outcome.kind is Kind.DELIVER and outcome.rcpts is None
                counts.append(parse_header(next(h for h in outcome.headers
                                                if h.startswith("X-Advertising:")).partition(":")[2].strip())["count"])
                flow.finished(outcome, _ok())
                await svc.settle()
            assert counts == ["1/1", "2/1", "3/1"] and await store.quarantine_list() == []

    asyncio.run(go())


def test_a_transaction_ended_without_an_answer_takes_its_held_copies_back(tmp_path):
    """The connection went while the ad was relayed: the client will send it again, so the copy
    held for the recipient over the limit must not stay (two copies in quarantine otherwise)."""
    async def go():
        async with SqliteStore(tmp_path / DB_NAME) as store:
            svc = Harness(config(tmp_path, daily_limit=1), store)
            outcome, _, flow = await svc.send(["user@test.example"], ad())
            flow.finished(outcome, _ok())
            await svc.settle()
            outcome, _, flow = await svc.send(["user@test.example", "other@test.example"], ad(n=1))
            assert outcome.kind is Kind.DELIVER and outcome.rcpts == ("other@test.example",)
            assert len(await store.quarantine_list()) == 1
            flow.close()  # no answer was given
            await svc.settle()
            assert await store.quarantine_list() == []

    asyncio.run(go())
