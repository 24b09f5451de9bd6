"""DNS blocklists against a real DNS server (unbound on loopback) serving test list zones."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import smtplib
import socket
import subprocess
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
from rawmilter import milter_connect, milter_negotiate, milter_packet, milter_response
from realservers import TEST_DOMAIN, VENV_BIN, Mailguard, config_for, free_port, wait_for

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
    assert code == 550 and text.startswith(b"5.7.1 Message rejected as spam (id "), (code, text)
    assert elapsed < 5.0  # slow.test never answers: the DNSBL budget (1 s) bounds the wait
    queue_id = text.decode().rstrip(")").rsplit(" ", 1)[1]
    row = wait_for(lambda: mg.cli("history", "--id", queue_id, "--json").stdout, 10, what="the history row")
    assert "BL_SPAM" in json.loads(row)["symbols"]  # the listing is why (the reply does not say)

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


# --- the client's lookup at connect, and refusing at RCPT -----------------------------------
# TTL 0, so that mailguard's resolver keeps no answer: every lookup reaches the server and
# DnsServer.queries_for counts them all.
CONNECT_RECORDS = [
    "99.2.0.192.refuse.test. 0 IN A 127.0.0.2",  # 192.0.2.99: listed where a listing refuses
    "97.2.0.192.score.test. 0 IN A 127.0.0.2",  # 192.0.2.97: listed where a listing only scores
]
CONNECT_ZONES = [{"zone": "refuse.test", "kind": "ip", "codes": ["127.0.0.2=REFUSE_SPAM:3.0"], "reject": True},
                 {"zone": "score.test", "kind": "ip", "codes": ["127.0.0.2=SCORE_SPAM:2.5"]}]


def asked(dns, ip: str) -> dict[str, int]:
    """How often each test zone was asked about `ip` so far."""
    return {zone: dns.queries_for(ip_query(ipaddress.ip_address(ip), zone)) for zone in ("refuse.test", "score.test")}


def test_a_listed_client_of_a_reject_zone_is_refused_at_rcpt_and_never_reaches_postfix(postfix, start_mailguard,
                                                                                       start_dns):
    dns = start_dns(CONNECT_RECORDS)
    mg = start_mailguard(postfix.port, dns={"servers": [dns.address]}, dnsbl={"zone": CONNECT_ZONES},
                         relay={"mode": "behind"}, server={"trusted_networks": ["127.0.0.0/8"]})
    refused_tag, tag = uuid.uuid4().hex, uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", mg.port, timeout=60) as s:
        s.ehlo("postfix.before.filter")
        assert s.docmd("XFORWARD", "ADDR=192.0.2.99 PROTO=ESMTP")[0] == 250
        assert s.mail("a@outside.example")[0] == 250
        for rcpt in (f"user@{TEST_DOMAIN}", f"other@{TEST_DOMAIN}"):
            code, text = s.rcpt(rcpt)  # the reason class and the id, no symbol names
            assert code == 550 and re.fullmatch(rb"5\.7\.1 Recipient refused: client address on a DNS blocklist "
                                                rb"\(id [0-9A-F]{12}\)", text), text
        assert s.docmd("DATA")[0] in (503, 554)  # no recipient: no message
        s.rset()
        # the next transaction of the connection comes from another client: it is looked up
        assert s.docmd("XFORWARD", "ADDR=192.0.2.97 PROTO=ESMTP")[0] == 250
        assert s.mail("a@outside.example")[0] == 250
        assert s.rcpt(f"user@{TEST_DOMAIN}")[0] == 250  # listed where it only scores
        assert s.data(f"Subject: {tag}\r\n\r\nhello\r\n".encode())[0] == 250
    delivered = postfix.wait_delivered("user", lambda b: tag.encode() in b).read_bytes().replace(b"\n\t", b" ")
    assert b"SCORE_SPAM" in delivered and b"REFUSE_SPAM" not in delivered  # scored at DATA
    # Postfix delivered the later message: the refused one would have been there before it
    assert not any(refused_tag.encode() in p.read_bytes() for user in ("user", "other")
                   for p in postfix.delivered(user))
    assert asked(dns, "192.0.2.99") == {"refuse.test": 1, "score.test": 1}
    assert asked(dns, "192.0.2.97") == {"refuse.test": 1, "score.test": 1}  # once: not again at DATA


def test_the_client_lookup_starts_at_connect_and_a_reject_listing_refuses_at_rcpt(tmp_path, start_dns):
    """In milter mode Postfix names the client at CONNECT: its lookups are answered before MAIL."""
    dns = start_dns(CONNECT_RECORDS)
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), server={"listen": ""}, milter={"listen": "127.0.0.1:0"},
                                                dns={"servers": [dns.address]}, dnsbl={"zone": CONNECT_ZONES})).start()
    try:
        with socket.create_connection(("127.0.0.1", mg.milter_port), timeout=30) as conn:
            milter_negotiate(conn)
            milter_connect(conn, "192.0.2.99")
            conn.sendall(milter_packet(b"H", b"client.example\x00"))  # no reply: NR_HELO
            wait_for(lambda: asked(dns, "192.0.2.99") == {"refuse.test": 1, "score.test": 1}, 10,
                     what="the client's lookups, before MAIL")
            conn.sendall(milter_packet(b"M", b"<a@outside.example>\x00"))
            assert milter_response(conn) == b"c"
            for rcpt in (b"user", b"other"):
                conn.sendall(milter_packet(b"R", b"<" + rcpt + f"@{TEST_DOMAIN}>\x00".encode()))
                assert re.fullmatch(rb"y550 5\.7\.1 Recipient refused: client address on a DNS blocklist "
                                    rb"\(id [0-9A-F]{12}\)\x00", milter_response(conn))
        assert asked(dns, "192.0.2.99") == {"refuse.test": 1, "score.test": 1}
    finally:
        assert mg.stop() == 0


def milter_message(conn: socket.socket, tag: str) -> list[bytes]:
    """One message after CONNECT and HELO: MAIL, RCPT, a header, the body, the end; the
    responses to the end of the message (header edits, then ACCEPT)."""
    conn.sendall(milter_packet(b"M", b"<a@outside.example>\x00"))
    assert milter_response(conn) == b"c"
    conn.sendall(milter_packet(b"R", f"<user@{TEST_DOMAIN}>\x00".encode()))
    assert milter_response(conn) == b"c"  # a listing without reject never refuses
    conn.sendall(milter_packet(b"L", f"Subject\x00 {tag}\x00".encode()) + milter_packet(b"N"))
    assert milter_response(conn) == b"c"
    conn.sendall(milter_packet(b"B", b"hello\r\n"))
    assert milter_response(conn) == b"c"
    conn.sendall(milter_packet(b"E"))
    responses = []
    while not responses or responses[-1][:1] not in (b"a", b"c", b"y", b"d", b"r", b"t", b""):
        responses.append(milter_response(conn))
    return responses


def test_the_client_is_looked_up_once_per_connection_and_a_listing_without_reject_scores_at_data(tmp_path,
                                                                                              start_dns):
    dns = start_dns(CONNECT_RECORDS)
    mg = Mailguard(tmp_path / "mg", config_for(free_port(), server={"listen": ""}, milter={"listen": "127.0.0.1:0"},
                                                dns={"servers": [dns.address]}, dnsbl={"zone": CONNECT_ZONES})).start()
    try:
        with socket.create_connection(("127.0.0.1", mg.milter_port), timeout=30) as conn:
            milter_negotiate(conn)
            milter_connect(conn, "192.0.2.97")
            conn.sendall(milter_packet(b"H", b"client.example\x00"))
            wait_for(lambda: asked(dns, "192.0.2.97") == {"refuse.test": 1, "score.test": 1}, 10,
                     what="the client's lookups, before MAIL")
            for _ in range(2):  # two messages on the connection
                responses = milter_message(conn, uuid.uuid4().hex)
                assert responses[-1] == b"a"
                symbols = [r for r in responses if r[:1] == b"i" and b"X-Mailguard-Symbols\x00" in r]
                assert len(symbols) == 1 and b"SCORE_SPAM(2.50)" in symbols[0], responses
        # asked at CONNECT, never again: neither at DATA nor for the second message
        assert asked(dns, "192.0.2.97") == {"refuse.test": 1, "score.test": 1}
    finally:
        assert mg.stop() == 0


def test_scan_runs_the_connect_stage_with_client_ip_and_offline_leaves_both_out(tmp_path, start_dns):
    dns = start_dns(CONNECT_RECORDS + [a("listed-link.test.dbl.test", "127.0.1.2")])
    zones = CONNECT_ZONES + [{"zone": "dbl.test", "kind": "domain", "codes": ["127.0.1.2=DBL_T_SPAM:5.0"]}]
    cfg = tmp_path / "mailguard.toml"
    cfg.write_text(config_for(free_port(), dns={"servers": [dns.address]}, dnsbl={"zone": zones}))
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: a@outside.example\r\nSubject: x\r\n\r\nsee http://listed-link.test/\r\n")

    def scan(*args: str) -> tuple[dict, str]:
        res = subprocess.run([VENV_BIN / "mailguard", "scan", "--json", "--config", cfg, "--state-dir",
                              tmp_path / "state", *args, str(path)], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout), res.stderr

    got, _ = scan("--client-ip", "192.0.2.97", "--rcpt", f"user@{TEST_DOMAIN}")
    assert {"SCORE_SPAM", "DBL_T_SPAM"} <= set(got["symbols"]) and got["forced"] is None
    assert "ip=192.0.2.97" in got["symbols"]["SCORE_SPAM"]["detail"]
    got, _ = scan("--client-ip", "192.0.2.99", "--rcpt", f"user@{TEST_DOMAIN}")
    assert got["action"] == "reject" and got["forced"] == "reject" and "REFUSE_SPAM" in got["symbols"]
    got, _ = scan("--client-ip", "192.0.2.99")  # no recipient to refuse: the whole message is scanned
    assert {"REFUSE_SPAM", "DBL_T_SPAM"} <= set(got["symbols"]) and got["forced"] == "reject"
    before = asked(dns, "192.0.2.99")
    got, err = scan("--offline", "--client-ip", "192.0.2.99", "--rcpt", f"user@{TEST_DOMAIN}")
    assert "offline: skipped" in err and "DNSBL" in err
    assert not {"REFUSE_SPAM", "SCORE_SPAM", "DBL_T_SPAM"} & set(got["symbols"]) and got["forced"] is None
    assert asked(dns, "192.0.2.99") == before
