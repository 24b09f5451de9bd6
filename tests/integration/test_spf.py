"""SPF against a real DNS server (unbound on loopback) through the shared resolver."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mailguard.auth.spf import SpfChecker
from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver
from realdns import txt

CLIENT = "192.0.2.10"
TOO_MANY = " ".join(f"include:i{n}.toomany.test" for n in range(1, 12))
RECORDS = [
    txt("include.test.", "v=spf1 include:_spf.provider.test -all"),
    txt("_spf.provider.test.", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:5::/48 -all"),
    txt("redirect.test.", "v=spf1 redirect=_spf.provider.test"),
    txt("a.test.", "v=spf1 a -all"),
    "a.test. 300 IN A 192.0.2.10",
    txt("acidr.test.", "v=spf1 a:host.acidr.test/28 -all"),
    "host.acidr.test. 300 IN A 192.0.2.1",
    txt("mx.test.", "v=spf1 mx -all"),
    "mx.test. 300 IN MX 10 mx1.mx.test.",
    "mx.test. 300 IN MX 20 mx2.mx.test.",
    "mx1.mx.test. 300 IN A 198.51.100.7",
    "mx2.mx.test. 300 IN A 192.0.2.10",
    txt("ip6.test.", "v=spf1 ip6:2001:db8::/32 -all"),
    txt("softfail.test.", "v=spf1 ip4:198.51.100.1 ~all"),
    txt("neutral.test.", "v=spf1 ip4:198.51.100.1 ?all"),
    txt("macro.test.", "v=spf1 exists:%{i}._ip.macro.test exists:%{l}._user.macro.test -all"),
    "192.0.2.10._ip.macro.test. 300 IN A 127.0.0.2",
    "carol._user.macro.test. 300 IN A 127.0.0.2",
    txt("toomany.test.", f"v=spf1 {TOO_MANY} ip4:192.0.2.10 -all"),
    *[txt(f"i{n}.toomany.test.", "v=spf1 ip4:203.0.113.99 ?all") for n in range(1, 12)],
    txt("void.test.", "v=spf1 a:nx1.void.test a:nx2.void.test a:nx3.void.test ip4:192.0.2.10 -all"),
    txt("twovoids.test.", "v=spf1 a:nx1.void.test a:nx2.void.test ip4:192.0.2.10 -all"),
    txt("two.test.", "v=spf1 ip4:192.0.2.10 -all"),
    txt("two.test.", "v=spf1 -all"),
    txt("norecord.test.", "google-site-verification=abc"),
    txt("mx.helo.test.", "v=spf1 ip4:192.0.2.10 -all"),
]


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.fixture
def check(start_dns, executor):
    server = start_dns(RECORDS)

    def run(mail_from: str, client: str = CLIENT, helo: str = "client.example", server_address=None,
            budget: float = 5.0):
        async def go():
            address = server_address or server.address
            resolver = Resolver.from_settings(DnsSettings(servers=(address,), timeout=min(2.0, budget)))
            return await SpfChecker(resolver, executor).check(client, mail_from, helo, time.monotonic() + budget)
        return asyncio.run(go())

    return run


@pytest.mark.parametrize("mail_from, client, expected", [
    ("a@include.test", CLIENT, "pass"),
    ("a@include.test", "203.0.113.5", "fail"),
    ("a@redirect.test", CLIENT, "pass"),
    ("a@redirect.test", "203.0.113.5", "fail"),
    ("a@a.test", CLIENT, "pass"),
    ("a@a.test", "192.0.2.11", "fail"),
    ("a@acidr.test", "192.0.2.14", "pass"),
    ("a@acidr.test", "192.0.2.17", "fail"),
    ("a@mx.test", CLIENT, "pass"),
    ("a@mx.test", "198.51.100.7", "pass"),
    ("a@mx.test", "198.51.100.8", "fail"),
    ("a@ip6.test", "2001:db8:1::25", "pass"),
    ("a@ip6.test", "2001:db9::25", "fail"),
    ("a@include.test", "2001:db8:5:1::1", "pass"),
    ("a@softfail.test", CLIENT, "softfail"),
    ("a@neutral.test", CLIENT, "neutral"),
    ("carol@macro.test", "203.0.113.5", "pass"),  # %{l} names an existing host
    ("dave@macro.test", CLIENT, "pass"),  # %{i} does
    ("dave@macro.test", "203.0.113.5", "fail"),
    ("a@norecord.test", CLIENT, "none"),
    ("a@nonexistent.test", CLIENT, "none"),
])
def test_results(check, mail_from, client, expected):
    result = check(mail_from, client)
    assert result.result == expected, result
    assert result.identity == "mailfrom" and result.sender == mail_from
    assert result.domain == mail_from.split("@")[1]


def test_the_evaluated_record_is_reported(check):
    result = check("a@include.test")
    assert result.record == "v=spf1 include:_spf.provider.test -all"


def test_more_than_ten_lookups_is_a_permerror(check):
    result = check("a@toomany.test")
    assert result.result == "permerror", result
    assert "lookups" in result.explanation.lower()


def test_more_than_two_void_lookups_is_a_permerror(check):
    assert check("a@void.test").result == "permerror"
    assert check("a@twovoids.test").result == "pass"  # two are allowed (RFC 7208 §4.6.4)


def test_two_spf_records_are_a_permerror(check):
    assert check("a@two.test").result == "permerror"


def test_null_sender_checks_the_helo_name(check):
    result = check("", helo="mx.helo.test")
    assert (result.result, result.identity, result.sender, result.domain) == \
        ("pass", "helo", "postmaster@mx.helo.test", "mx.helo.test")
    assert check("", client="203.0.113.5", helo="mx.helo.test").result == "fail"


def test_null_sender_with_an_address_literal_helo_is_none(check):
    result = check("", helo="[192.0.2.10]")
    assert (result.result, result.identity) == ("none", "helo")


def test_a_dead_dns_server_is_a_temperror_within_the_budget(check, silent_dns):
    started = time.monotonic()
    result = check("a@include.test", server_address=silent_dns.address, budget=1.0)
    elapsed = time.monotonic() - started
    assert result.result == "temperror", result
    assert elapsed < 4.0
