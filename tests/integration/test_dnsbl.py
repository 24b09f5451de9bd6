"""DNS blocklists against a real DNS server (unbound on loopback) serving test list zones."""
from __future__ import annotations

import asyncio
import logging
import smtplib
import time
import uuid

import pytest

from mailguard.config import DnsSettings
from mailguard.dnsbl.check import DnsblCheck
from mailguard.dnsbl.spec import DnsblSettings, DnsblZone
from mailguard.dnsbl.targets import ip_query
from mailguard.dnsbl.zones import Zone, ZoneHealth
from mailguard.dnsresolver import Resolver
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import merge_symbols
from realservers import TEST_DOMAIN

import ipaddress

IP_ZONE = DnsblZone(zone="bl.test", kind="ip", codes=("127.0.0.2=BL_SPAM:3.0", "127.0.0.4-127.0.0.7=BL_EXPLOIT:4.0"),
                    symbol="BL_OTHER", score=1.0, blocked=("127.255.255.0/24",))
MULTI_ZONE = DnsblZone(zone="multi.test", kind="domain", codes=("2=MULTI_BLACK:4.0", "4=MULTI_GREY:1.0",
                                                               "8=MULTI_RED:2.0"), bitmask=True)
DOMAIN_ZONE = DnsblZone(zone="dbl.test", kind="domain", codes=("127.0.1.2=DBL_T_SPAM:5.0",),
                        blocked=("127.255.255.0/24",))
SLOW_ZONE = DnsblZone(zone="slow.test", kind="ip", codes=("127.0.0.2=SLOW_HIT:1.0",))


def a(name: str, address: str = "127.0.0.2") -> str:
    return f"{name}. 300 IN A {address}"


RECORDS = [
    a("99.2.0.192.bl.test"),
    a("98.2.0.192.bl.test", "127.0.0.5"),
    a("97.2.0.192.bl.test", "127.0.0.77"),  # a code the config does not name
    a("96.2.0.192.bl.test", "127.255.255.254"),  # "you query through a public resolver"
    a("95.2.0.192.bl.test", "203.0.113.1"),  # a wildcarding list: never a hit
    a("3.2.1.10.bl.test"),  # 10.1.2.3 is listed, but RFC 1918 space is never asked about
    a(ip_query(ipaddress.ip_address("2001:db8::99"), "bl.test")),
    a("spammy-shop.test.dbl.test", "127.0.1.2"),
    a("evil.test.dbl.test", "127.0.1.2"),
    a("other.test.dbl.test", "127.0.1.2"),
    a("idn.xn--p1ai.dbl.test", "127.0.1.2"),
    a("mixed.test.multi.test", "127.0.0.6"),
    a("refused.test.dbl.test", "127.255.255.254"),
]


@pytest.fixture
def dns(start_dns):
    return start_dns(RECORDS, denied=["slow.test"])


def message(body: str = "hello\r\n", html: str | None = None, extra: str = "") -> bytes:
    head = "From: a@sender.example\r\nTo: b@example.org\r\nSubject: x\r\n" + extra
    if html is None:
        return (head + "\r\n" + body).encode()
    return (head + "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()


def run(dns_address: str, zones, client: str | None = "198.51.100.1", raw: bytes = b"", health=None,
        budget_ms: int = 2000, trusted: tuple = (), **settings):
    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(dns_address,), timeout=1.0))
        cfg = DnsblSettings(budget_ms=budget_ms, zone=tuple(zones), **settings)
        compiled, health_ = tuple(Zone.compile(z) for z in zones), health or ZoneHealth.for_settings(cfg)
        facts = MessageFacts(ClientFacts(ip=client), "a@sender.example", ("b@example.org",), "Q")
        symbols = []  # both stages, as the pipeline runs them: the client at connect, the rest at DATA
        for stage, ctx in (("connect", ScanContext(facts, b"")), ("data", ScanContext(facts, raw or message()))):
            symbols += await DnsblCheck(cfg, compiled, resolver, health_, trusted, stage=stage)(ctx)
        return {s.name: s for s in merge_symbols(symbols)}

    return asyncio.run(go())


def test_listed_ipv4_client_gets_the_codes_symbol(dns):
    got = run(dns.address, [IP_ZONE], client="192.0.2.99")
    assert set(got) == {"BL_SPAM"}
    assert got["BL_SPAM"].score == 3.0
    assert "ip=192.0.2.99" in got["BL_SPAM"].detail and "answer=127.0.0.2" in got["BL_SPAM"].detail


def test_unlisted_client_gets_nothing(dns):
    assert run(dns.address, [IP_ZONE], client="192.0.2.1") == {}


def test_listed_ipv6_client_is_asked_in_nibble_form(dns):
    got = run(dns.address, [IP_ZONE], client="2001:db8::99")
    assert set(got) == {"BL_SPAM"}


def test_code_ranges_and_unnamed_codes(dns):
    assert set(run(dns.address, [IP_ZONE], client="192.0.2.98")) == {"BL_EXPLOIT"}
    other = run(dns.address, [IP_ZONE], client="192.0.2.97")
    assert set(other) == {"BL_OTHER"} and other["BL_OTHER"].score == 1.0


def test_private_addresses_are_never_looked_up(dns):
    assert run(dns.address, [IP_ZONE], client="10.1.2.3") == {}
    assert run(dns.address, [IP_ZONE], client="127.0.0.1") == {}


def test_a_blocked_query_answer_is_not_a_hit(dns, caplog):
    with caplog.at_level(logging.WARNING, logger="mailguard.dnsbl"):
        got = run(dns.address, [IP_ZONE], client="192.0.2.96")
    assert set(got) == {"RBL_BLOCKED"} and got["RBL_BLOCKED"].score == 0
    assert "bl.test refused our query" in caplog.text


def test_an_answer_outside_127_is_ignored(dns):
    assert run(dns.address, [IP_ZONE], client="192.0.2.95") == {}


def test_bitmask_zone_gives_every_bit_set(dns):
    raw = message("see http://mixed.test/page\r\n")
    got = run(dns.address, [MULTI_ZONE], raw=raw)
    assert set(got) == {"MULTI_GREY", "MULTI_BLACK"}  # 6 = 4 | 2


def test_link_domains_from_html_and_obfuscated_text(dns):
    html = ('<p>Buy <a href="https://www.spammy-shop.test/cart?x=1">here</a> and '
            '<a href="http://innocent.test/">there</a></p><p>hxxp://evil.test/promo</p>'
            '<p>http:\\\\other.test\\x</p>')
    got = run(dns.address, [DOMAIN_ZONE], raw=message(html=html))
    assert set(got) == {"DBL_T_SPAM"}
    detail = got["DBL_T_SPAM"].detail
    assert "domain=spammy-shop.test" in detail
    assert "domain=evil.test" in detail and "domain=other.test" in detail


def test_idn_link_is_asked_in_punycode(dns):
    got = run(dns.address, [DOMAIN_ZONE], raw=message("xem http://idn.рф/khuyen-mai ngay\r\n"))
    assert "DBL_T_SPAM" in got and "domain=idn.xn--p1ai" in got["DBL_T_SPAM"].detail


def test_decimal_ip_link_is_asked_in_ip_zones(dns):
    # 3221226083 is 192.0.2.99 written as one number, which browsers still open.
    got = run(dns.address, [IP_ZONE], client=None, raw=message("click http://3221226083/x\r\n"))
    assert set(got) == {"BL_SPAM"} and "link-ip=192.0.2.99" in got["BL_SPAM"].detail


def test_domain_lookups_are_capped_per_message(dns):
    links = "".join(f"http://d{i}.test/ " for i in range(30)) + "http://evil.test/\r\n"
    got = run(dns.address, [DOMAIN_ZONE], raw=message(links), max_domains=20)
    assert got == {}  # evil.test is the 31st domain: never asked


def test_sender_domains_only_when_enabled(dns):
    raw = message(extra="Reply-To: x@evil.test\r\n")
    assert run(dns.address, [DOMAIN_ZONE], raw=raw) == {}
    assert "DBL_T_SPAM" in run(dns.address, [DOMAIN_ZONE], raw=raw, sender_domains=True)


def test_a_zone_that_never_answers_costs_at_most_the_budget(dns):
    started = time.monotonic()
    got = run(dns.address, [SLOW_ZONE, IP_ZONE], client="192.0.2.99", budget_ms=800)
    elapsed = time.monotonic() - started
    assert "BL_SPAM" in got  # the working zone still counts
    assert "RBL_TEMPERROR" in got and "zone=slow.test" in got["RBL_TEMPERROR"].detail
    assert elapsed < 3.0


def test_a_zone_failing_repeatedly_rests(dns):
    health = ZoneHealth(limit=2, rest=300.0)
    for _ in range(2):
        assert "RBL_TEMPERROR" in run(dns.address, [SLOW_ZONE], client="192.0.2.99", budget_ms=300, health=health)
    asked = dns.queries_for("slow.test")
    got = run(dns.address, [SLOW_ZONE], client="192.0.2.99", budget_ms=300, health=health)
    assert set(got) == {"RBL_ZONE_DOWN"} and "slow.test" in got["RBL_ZONE_DOWN"].detail
    assert asked >= 2 and dns.queries_for("slow.test") == asked  # not asked at all this time


# --- through the proxy ---------------------------------------------------------------------


def test_a_listed_client_is_refused_and_a_dead_zone_costs_only_its_budget(postfix, start_mailguard, dns):
    zones = [{"zone": "bl.test", "kind": "ip", "codes": ["127.0.0.2=BL_SPAM:20.0"]},
             {"zone": "slow.test", "kind": "ip", "codes": ["127.0.0.2=SLOW_HIT:1.0"]}]
    mg = start_mailguard(postfix.port, dns={"servers": [dns.address], "timeout": 5.0},
                         dnsbl={"budget_ms": 1000, "zone": zones}, relay={"mode": "behind"},
                         server={"trusted_networks": ["127.0.0.0/8"]})

    def send(client: str) -> tuple[int, bytes, float, str]:
        tag = uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
            s.ehlo("postfix.before.filter")
            assert s.docmd("XFORWARD", f"ADDR={client} PROTO=ESMTP")[0] == 250
            s.mail("a@outside.example")
            s.rcpt(f"user@{TEST_DOMAIN}")
            started = time.monotonic()
            code, text = s.data(f"Subject: {tag}\r\n\r\nhello\r\n".encode())
            return code, text, time.monotonic() - started, tag

    code, text, elapsed, _ = send("192.0.2.99")
    assert code == 550 and text.startswith(b"5.7.1") and b"BL_SPAM" in text, (code, text)
    assert elapsed < 5.0  # slow.test never answers: the DNSBL budget (1 s) bounds the wait

    code, _, _, tag = send("192.0.2.1")
    assert code == 250
    data = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes().replace(b"\n\t", b" ")
    assert b"RBL_TEMPERROR" in data and b"BL_SPAM" not in data


def test_the_first_untrusted_received_hop_is_asked_when_enabled(dns):
    received = ("Received: from relay.inside (relay.inside [10.0.0.5]) by mx.inside with ESMTP id A\r\n"
                "Received: from mail.sender (bad.host [192.0.2.99]) by relay.inside with ESMTP id B\r\n"
                "Received: from forged (forged [192.0.2.98]) by bad.host with SMTP id C\r\n")
    raw = message(extra=received)
    assert run(dns.address, [IP_ZONE], client="10.0.0.9", raw=raw) == {}  # off by default
    inside = (ipaddress.ip_network("10.0.0.0/8"),)
    got = run(dns.address, [IP_ZONE], client="10.0.0.9", raw=raw, received_hop=True, trusted=inside)
    assert set(got) == {"BL_SPAM"} and "hop=192.0.2.99" in got["BL_SPAM"].detail  # not the forged hop below
