"""The REPORTED_SOURCE check: the message's sources (client IP, envelope sender, From, the
domains AUTH proved, the first link domains) asked of the block list in one call, hits named
in the detail, never-blocked sources not asked about, and the symbol in a pipeline's verdict.

The store is not used: `DictSources` is a test double of the SourcesPort's `blocked` over a
dict (the SQLite implementation is tested on its own, against the same port)."""
from __future__ import annotations

import asyncio

import pytest

from mailguard.auth.results import AuthOutcome, DkimSignature, SpfResult
from mailguard.config import ActionSettings
from mailguard.reports.check import MAX_LINK_DOMAINS, ReportedSourceCheck, message_sources
from mailguard.reports.never_block import NeverBlock
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import CheckOutput, Pipeline, ScanContext
from mailguard.scan.verdict import Action
from mailguard.store.sources import BlockEntry

NOW = 1_700_000_000.0
DAY = 86400.0


class DictSources:
    """A test double of SourcesPort.blocked over a dict (kind, value) → BlockEntry; it records
    each call's sources."""

    def __init__(self, *entries: BlockEntry) -> None:
        self.entries = {(e.kind, e.value): e for e in entries}
        self.calls: list[list[tuple[str, str]]] = []

    async def blocked(self, sources, now):
        self.calls.append(list(sources))
        return [e for s in sources if (e := self.entries.get(s)) is not None and e.expires > now]


def entry(kind: str, value: str, reporters: int = 3, expires: float = NOW + 30 * DAY) -> BlockEntry:
    return BlockEntry(kind, value, NOW - DAY, expires, reporters)


def mail(frm: str = "Shop <seller@shop.example>", body: str = "Hello\r\n") -> bytes:
    return (f"From: {frm}\r\nTo: an@example.vn\r\nSubject: offer\r\nContent-Type: text/plain\r\n\r\n"
            + body).encode()


def run(sources: DictSources, raw: bytes = mail(), *, ip: str | None = "192.0.2.7",
        mail_from: str = "bounce@shop.example", auth: AuthOutcome | None = None,
        never_block: NeverBlock | None = None):
    async def go():
        ctx = ScanContext(MessageFacts(ClientFacts(ip=ip), mail_from, ("an@example.vn",), "Q"), raw)
        if auth is not None:
            future = asyncio.get_running_loop().create_future()
            future.set_result(CheckOutput(details=auth))
            ctx.outputs["AUTH"] = future
        return await ReportedSourceCheck(sources, never_block, clock=lambda: NOW)(ctx)
    return asyncio.run(go())


def test_no_listed_source_no_symbol():
    sources = DictSources(entry("ip", "198.51.100.1"))
    assert run(sources) == []
    assert sources.calls == [[("ip", "192.0.2.7"), ("address", "bounce@shop.example"),
                              ("address", "seller@shop.example")]]


def test_client_ip_hit_names_the_entry_and_its_reporters():
    [symbol] = run(DictSources(entry("ip", "192.0.2.7", reporters=4)))
    assert (symbol.name, symbol.score, symbol.detail) == ("REPORTED_SOURCE", 6.0, "ip:192.0.2.7 (4 reporters)")
    assert symbol.force is Action.REJECT  # a listed client is refused: a block list blocks


def test_a_listed_link_domain_alone_only_scores():
    [symbol] = run(DictSources(entry("link", "spamlink.example")),
                   mail(body="Visit http://www.spamlink.example/buy now\r\n"))
    assert symbol.detail == "link:spamlink.example (3 reporters)" and symbol.force is None


def test_ipv4_mapped_client_is_asked_in_its_plain_form():
    sources = DictSources(entry("ip", "192.0.2.7"))
    assert run(sources, ip="::ffff:192.0.2.7")[0].detail == "ip:192.0.2.7 (3 reporters)"


def test_every_kind_of_source_in_one_call():
    spf = SpfResult("pass", "mailfrom", "bounce.spam.example", "b@bounce.spam.example", "192.0.2.7")
    dkim = (DkimSignature("pass", "mail.spamco.example", "s1", "rsa-sha256"),
            DkimSignature("fail", "forged.example", "s1", "rsa-sha256"))
    sources = DictSources(entry("address", "bounce@shop.example", 5), entry("address", "seller@shop.example"),
                          entry("domain", "spam.example", 1), entry("domain", "spamco.example"),
                          entry("domain", "forged.example"), entry("link", "spamlink.example"))
    raw = mail(frm="Shop <Seller@SHOP.example>", body="Visit http://www.spamlink.example/buy now\r\n")
    [symbol] = run(sources, raw, mail_from="Bounce@Shop.Example", auth=AuthOutcome(spf, dkim, None, None))
    assert symbol.detail == ("address:bounce@shop.example (5 reporters); address:seller@shop.example (3 reporters); "
                             "domain:spam.example (1 reporter); domain:spamco.example (3 reporters); "
                             "link:spamlink.example (3 reporters)")  # forged.example: its DKIM failed
    assert len(sources.calls) == 1


def test_without_auth_no_domain_is_asked():
    sources = DictSources(entry("domain", "shop.example"))
    assert run(sources) == []
    assert all(kind != "domain" for kind, _ in sources.calls[0])


def test_expired_entries_do_not_count():
    assert run(DictSources(entry("ip", "192.0.2.7", expires=NOW - 1))) == []


def test_links_are_bounded():
    body = "".join(f"http://site{i}.example/\r\n" for i in range(MAX_LINK_DOMAINS + 10))
    sources = DictSources(entry("link", f"site{MAX_LINK_DOMAINS + 5}.example"), entry("link", "site3.example"))
    [symbol] = run(sources, mail(body=body))
    assert symbol.detail == "link:site3.example (3 reporters)"
    assert len([s for s in sources.calls[0] if s[0] == "link"]) == MAX_LINK_DOMAINS


def test_never_blocked_sources_are_not_asked_about():
    nb = NeverBlock.from_text("bit.ly\ngmail.com\n209.85.128.0/17\n", local_domains=["example.vn"])
    auth = AuthOutcome(None, (DkimSignature("pass", "gmail.com", "s1", "rsa-sha256"),), None, None)
    sources = DictSources(entry("ip", "209.85.220.41"), entry("domain", "gmail.com"), entry("link", "bit.ly"),
                          entry("address", "colleague@example.vn"), entry("address", "spammer@gmail.com"))
    raw = mail(frm="spammer@gmail.com", body="http://bit.ly/x http://www.example.vn/\r\n")
    [symbol] = run(sources, raw, ip="209.85.220.41", mail_from="colleague@example.vn", auth=auth, never_block=nb)
    assert symbol.detail == "address:spammer@gmail.com (3 reporters)"  # one account, not the provider
    assert sources.calls == [[("address", "spammer@gmail.com")]]


def test_nothing_to_ask_asks_nothing():
    sources = DictSources()
    assert run(sources, mail(frm="undisclosed"), ip=None, mail_from="") == []
    assert sources.calls == []


def test_message_sources_is_one_normal_form():
    assert message_sources(client_ip="2001:DB8::7", addresses=["A@Example.COM", "a@example.com", "", "junk"],
                           authenticated=["Mail.Example.COM."], links=["www.example.org", "example.org"]) == [
        ("ip", "2001:db8::7"), ("address", "a@example.com"), ("domain", "example.com"), ("link", "example.org")]


def test_in_a_pipeline_a_listed_client_is_rejected():
    sources = DictSources(entry("ip", "192.0.2.7", reporters=4))
    check = ReportedSourceCheck(sources, None, clock=lambda: NOW)
    from mailguard.reports.spec import STAGE

    pipeline = Pipeline((STAGE.check(check, 1.0),), ActionSettings(), deadline=5.0)
    facts = MessageFacts(ClientFacts(ip="192.0.2.7"), "b@shop.example", ("an@example.vn",), "Q")
    verdict = asyncio.run(pipeline.evaluate(ScanContext(facts, mail())))
    assert verdict.action is Action.REJECT and verdict.score == pytest.approx(6.0)


def test_a_failing_store_is_check_error_not_an_exception():
    class Broken:
        async def blocked(self, sources, now):
            raise OSError("database is locked")

    from mailguard.reports.spec import STAGE

    pipeline = Pipeline((STAGE.check(ReportedSourceCheck(Broken()), 1.0),), ActionSettings(), deadline=5.0)
    facts = MessageFacts(ClientFacts(ip="192.0.2.7"), "b@shop.example", ("an@example.vn",), "Q")
    verdict = asyncio.run(pipeline.evaluate(ScanContext(facts, mail())))
    assert [s.name for s in verdict.symbols] == ["CHECK_ERROR_REPORTED_SOURCE"] and verdict.score == 0
