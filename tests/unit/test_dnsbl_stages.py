"""The DNSBL check's two stages through the flow, over a resolver that answers from a table: the
client address from connect on (a listing in a `reject` zone refuses at RCPT), the rest at DATA.
The same behaviour against a real DNS server is in tests/integration/test_dnsbl.py."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from mailguard import config
from mailguard.checks.registry import build_checks
from mailguard.dnsbl import spec as dnsbl
from mailguard.dnsbl.zones import ZoneHealth
from mailguard.dnsresolver.answer import DnsAnswer, Status
from mailguard.flow import Kind, MessageFlow, ScanServices
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import Pipeline, ScanContext
from mailguard.scan.verdict import Action
from mailguard.smtp.replies import Reply

ZONES = '''
[dnsbl]
budget_ms = 1000

[[dnsbl.zone]]
zone = "refuse.test"
kind = "ip"
codes = ["127.0.0.2=REFUSE_SPAM:3.0", "127.0.0.10=REFUSE_PBL:1.0"]
reject = true
reject_symbols = ["REFUSE_SPAM"]

[[dnsbl.zone]]
zone = "score.test"
kind = "ip"
codes = ["127.0.0.2=SCORE_SPAM:2.5"]
'''

LISTED = {  # query name → answer
    "99.2.0.192.refuse.test": "127.0.0.2",
    "98.2.0.192.refuse.test": "127.0.0.10",  # listed, but with a symbol that only scores
    "99.2.0.192.score.test": "127.0.0.2",
    "97.2.0.192.score.test": "127.0.0.2",
    "1.113.0.203.refuse.test": "127.0.0.2",
}
RAW = b"From: a@outside.example\r\nSubject: hello\r\n\r\nsee http://192.0.2.99/ and http://203.0.113.1/\r\n"


class TableResolver:
    """Answers from LISTED (NXDOMAIN otherwise) and remembers every name asked, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.changed = asyncio.Event()

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append(name)
        self.changed.set()
        if name in LISTED:
            return DnsAnswer(name, rdtype, Status.OK, (LISTED[name],), ttl=0)
        return DnsAnswer(name, rdtype, Status.NXDOMAIN, ttl=0)

    def count(self, ip_reversed: str) -> int:
        return sum(1 for name in self.asked if name.startswith(ip_reversed + "."))

    async def until(self, condition, timeout: float = 5.0) -> None:
        """Wait until `condition()` holds (woken by each query; no sleeping)."""
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


def flow_for(text: str, client: str, offline: bool = False) -> tuple[MessageFlow, TableResolver]:
    cfg = config.from_text(text)
    resolver = TableResolver()
    services = SimpleNamespace(resolver=resolver, zone_health=ZoneHealth.for_settings(cfg.dnsbl))
    checks = tuple(dnsbl.SPEC.build(cfg, services, offline))
    pipeline = Pipeline(checks, cfg.actions, deadline=5.0)
    return MessageFlow(ScanServices(cfg, pipeline), ClientFacts(ip=client), record=False), resolver


async def message(flow: MessageFlow, rcpt: str = "user@test.example", raw: bytes = RAW):
    """MAIL, one RCPT, DATA: (our RCPT reply or None, the outcome or None when refused)."""
    await flow.mail("a@outside.example", smtputf8=False)
    reply = await flow.rcpt(rcpt)
    if reply is not None:
        flow.reset()
        return reply, None
    flow.accepted(rcpt)
    outcome = await flow.data(raw)
    flow.finished(outcome, outcome.reply or Reply(250, "2.0.0 Ok: queued"))  # DELIVER: the downstream's 250
    return None, outcome


def test_reply_symbols_names_the_forcing_symbol_first_then_the_highest_scores():
    async def go():
        flow, resolver = flow_for("[server]\nreply_symbols = true\n" + ZONES, "192.0.2.99")
        flow.connected()
        await flow.mail("a@outside.example", smtputf8=False)
        reply = await flow.rcpt("user@test.example")
        assert reply.text == ("5.7.1 Recipient refused: client address on a DNS blocklist "
                              f"(REFUSE_SPAM, SCORE_SPAM; id {flow.txn.queue_id})")
        flow.close()

    asyncio.run(go())


def test_the_client_is_looked_up_at_connect_before_mail():
    async def go():
        flow, resolver = flow_for(ZONES, "192.0.2.99")
        flow.connected()
        await resolver.until(lambda: resolver.count("99.2.0.192") == 2)  # both ip zones, before MAIL
        assert set(resolver.asked) == {"99.2.0.192.refuse.test", "99.2.0.192.score.test"}
        flow.close()

    asyncio.run(go())


def test_a_client_listed_in_a_reject_zone_is_refused_at_every_rcpt():
    async def go():
        flow, resolver = flow_for(ZONES, "192.0.2.99")
        flow.connected()
        await flow.mail("a@outside.example", smtputf8=False)
        for rcpt in ("user@test.example", "other@test.example"):
            reply = await flow.rcpt(rcpt)
            assert reply is not None and reply.code == 550
            # the reason class and the id; no symbol names unless [server] reply_symbols
            assert reply.text == f"5.7.1 Recipient refused: client address on a DNS blocklist (id {flow.txn.queue_id})"
        refused = flow.txn.refused
        assert refused.forced is Action.REJECT and refused.symbol("REFUSE_SPAM").force is Action.REJECT
        assert refused.symbol("SCORE_SPAM").force is None  # a zone without reject only scores
        flow.close()

    asyncio.run(go())


def test_a_listing_without_reject_scores_at_data_and_the_client_is_asked_once_per_connection():
    async def go():
        flow, resolver = flow_for(ZONES, "192.0.2.97")
        flow.connected()
        outcomes = []
        for _ in range(2):  # two messages on one connection
            reply, outcome = await message(flow)
            assert reply is None
            outcomes.append(outcome)
        for outcome in outcomes:
            assert outcome.kind is Kind.DELIVER
            assert [s.name for s in outcome.verdict.symbols if s.name.startswith("SCORE")] == ["SCORE_SPAM"]
            assert outcome.verdict.symbol("SCORE_SPAM").score == 2.5
            assert "ip=192.0.2.97" in outcome.verdict.symbol("SCORE_SPAM").detail
        assert resolver.count("97.2.0.192") == 2  # once in each ip zone, at connect; never at DATA
        flow.close()

    asyncio.run(go())


def test_a_reject_symbol_that_is_not_listed_for_refusal_only_scores():
    async def go():
        flow, _ = flow_for(ZONES, "192.0.2.98")
        flow.connected()
        reply, outcome = await message(flow)
        assert reply is None and outcome.verdict.symbol("REFUSE_PBL").score == 1.0
        assert outcome.verdict.forced is None

    asyncio.run(go())


def test_listed_links_in_a_reject_zone_only_score():
    async def go():
        flow, resolver = flow_for(ZONES, "198.51.100.1")
        flow.connected()
        reply, outcome = await message(flow)
        assert reply is None
        sym = outcome.verdict.symbol("REFUSE_SPAM")
        assert sym.force is None and outcome.verdict.forced is None
        assert "link-ip=192.0.2.99" in sym.detail and "link-ip=203.0.113.1" in sym.detail
        assert resolver.count("1.100.51.198") == 2  # the client: at connect, in both ip zones

    asyncio.run(go())


def test_a_link_to_the_client_address_is_not_asked_again_at_data():
    async def go():
        flow, resolver = flow_for(ZONES, "192.0.2.99")
        data_stage = next(c for c in flow.services.pipeline.checks if c.phase == "data")
        facts = MessageFacts(ClientFacts(ip="192.0.2.99"), "a@outside.example", ("user@test.example",), "Q")
        symbols = await data_stage.run(ScanContext(facts, RAW))
        assert "99.2.0.192.refuse.test" not in resolver.asked and "99.2.0.192.score.test" not in resolver.asked
        assert "1.113.0.203.refuse.test" in resolver.asked
        assert {s.name for s in symbols} == {"REFUSE_SPAM"}

    asyncio.run(go())


def test_a_new_client_by_xforward_is_looked_up_and_the_old_answer_goes():
    async def go():
        flow, resolver = flow_for(ZONES, "127.0.0.1")  # Postfix before us: loopback is never asked
        flow.connected()
        flow.client_changed(ClientFacts(ip="192.0.2.99", forwarded=True))
        await flow.mail("a@outside.example", smtputf8=False)
        assert (await flow.rcpt("user@test.example")).code == 550
        flow.reset()
        flow.client_changed(ClientFacts(ip="192.0.2.97", forwarded=True))
        reply, outcome = await message(flow, raw=b"Subject: no links\r\n\r\nhello\r\n")
        assert reply is None and outcome.verdict.symbol("REFUSE_SPAM") is None
        assert outcome.verdict.symbol("SCORE_SPAM") is not None
        assert resolver.count("99.2.0.192") == 2 and resolver.count("97.2.0.192") == 2
        assert not any(name.startswith("1.0.0.127.") for name in resolver.asked)
        flow.close()

    asyncio.run(go())


def test_a_resting_zone_is_named_once_though_both_stages_skip_it():
    async def go():
        flow, resolver = flow_for(ZONES, "192.0.2.97")
        health = flow.services.pipeline.checks[0].run.health
        for _ in range(health.limit):
            health.failed("score.test")
        flow.connected()
        reply, outcome = await message(flow)
        assert reply is None and outcome.verdict.symbol("RBL_ZONE_DOWN").detail == "zone=score.test"
        assert outcome.verdict.symbol("SCORE_SPAM") is None and resolver.count("97.2.0.192") == 1

    asyncio.run(go())


def test_offline_leaves_both_stages_out():
    cfg = config.from_text(ZONES)
    names = {(c.name, c.phase) for c in build_checks(cfg)}
    assert {("DNSBL_CONNECT", "connect"), ("DNSBL", "data")} <= names
    assert not {c.name for c in build_checks(cfg, offline=True)} & {"DNSBL_CONNECT", "DNSBL"}


def test_the_shipped_zen_zone_refuses_sbl_xbl_and_drop_only():
    zen = next(z for z in config.Config().dnsbl.zone if z.zone == "zen.spamhaus.org")
    assert zen.reject and {s for s in ("RBL_ZEN_SBL", "RBL_ZEN_CSS", "RBL_ZEN_XBL", "RBL_ZEN_DROP",
                                       "RBL_ZEN_PBL", "RBL_ZEN") if zen.refuses(s)} == {
        "RBL_ZEN_SBL", "RBL_ZEN_XBL", "RBL_ZEN_DROP"}
    assert not any(z.reject for z in config.Config().dnsbl.zone if z.kind == "domain")


@pytest.mark.parametrize("zone, expected", [
    ('zone = "d.test"\nkind = "domain"\nreject = true\n',
     'm.toml:4: [[dnsbl.zone]] #1 reject: only a kind = "ip" zone looks up the client address'),
    ('zone = "i.test"\ncodes = ["127.0.0.2=I_SPAM:1"]\nreject_symbols = ["I_SPAM"]\n',
     "m.toml:4: [[dnsbl.zone]] #1 reject_symbols: has no effect without reject = true"),
    ('zone = "i.test"\ncodes = ["127.0.0.2=I_SPAM:1"]\nreject = true\nreject_symbols = ["I_SPMA"]\n',
     "m.toml:5: [[dnsbl.zone]] #1 reject_symbols: 'I_SPMA' is not a symbol of this zone (I_SPAM)"),
])
def test_reject_settings_are_validated(tmp_path, zone, expected):
    path = tmp_path / "m.toml"
    path.write_text("[[dnsbl.zone]]\n" + zone)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert expected in str(err.value)
