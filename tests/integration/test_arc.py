"""ARC chain validation (dkimpy in a worker thread) with keys served by a real DNS server (unbound)."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dkimtools import DkimKey, arc_seal, message, rsa_key, sign
from mailguard.auth.arc import verify_arc
from mailguard.auth.dkim import verify_dkim
from mailguard.auth.results import ArcResult
from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver


@pytest.fixture(scope="module")
def author_key() -> DkimKey:
    return rsa_key("example.com", "sel")


@pytest.fixture(scope="module")
def list_key() -> DkimKey:
    return rsa_key("lists.example.net", "arc")


@pytest.fixture(scope="module")
def relay_key() -> DkimKey:
    return rsa_key("relay.example.org", "seal")


@pytest.fixture(scope="module")
def forwarded(author_key, list_key) -> bytes:
    """Signed by example.com; then the list lists.example.net tags the Subject (which breaks the
    DKIM signature) and seals what it saw: DKIM passed on arrival."""
    signed = sign(message(subject="Meeting"), author_key)
    altered = signed.replace(b"Subject: Meeting", b"Subject: [team] Meeting")
    return arc_seal(altered, list_key, "lists.example.net", "dkim=pass header.d=example.com header.s=sel")


def run(check, raw: bytes, dns_address: str, timeout: float = 2.0, budget: float = 10.0):
    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(dns_address,), timeout=timeout))
        with ThreadPoolExecutor(max_workers=2) as executor:
            return await check(raw, resolver, executor, time.monotonic() + budget)

    return asyncio.run(go())


def test_a_mailing_list_seal_passes_where_dkim_broke(start_dns, forwarded, author_key, list_key):
    server = start_dns([author_key.zone_line(), list_key.zone_line()])
    assert run(verify_arc, forwarded, server.address) == ArcResult("pass", 1, "lists.example.net")
    [dkim_sig] = run(verify_dkim, forwarded, server.address)
    assert (dkim_sig.domain, dkim_sig.result) == ("example.com", "fail")


def test_a_second_hop_extends_the_chain(start_dns, forwarded, author_key, list_key, relay_key):
    server = start_dns([author_key.zone_line(), list_key.zone_line(), relay_key.zone_line()])
    relayed = arc_seal(forwarded, relay_key, "relay.example.org", "arc=pass smtp.remote-ip=192.0.2.25")
    assert run(verify_arc, relayed, server.address) == ArcResult("pass", 2, "relay.example.org")


def test_body_tampered_after_sealing_fails(start_dns, forwarded, author_key, list_key):
    server = start_dns([author_key.zone_line(), list_key.zone_line()])
    tampered = forwarded.replace(b"Hi there.", b"Hi there, send money.")
    result = run(verify_arc, tampered, server.address)
    assert (result.result, result.instances, result.sealer) == ("fail", 1, "lists.example.net")
    assert "ARC-Message-Signature" in result.reason, result


def test_seal_key_not_published_fails(start_dns, forwarded, author_key):
    server = start_dns([author_key.zone_line()])
    result = run(verify_arc, forwarded, server.address)
    assert result.result == "fail", result


def test_no_arc_headers_is_none(start_dns, author_key):
    server = start_dns([author_key.zone_line()])
    assert run(verify_arc, sign(message(), author_key), server.address) == ArcResult("none")


def test_more_than_fifty_sets_fails_without_looking_keys_up(silent_dns):
    sets = b"".join(b"ARC-Seal: i=%d; cv=pass; a=rsa-sha256; d=example.net; s=s%d; b=AAAA\r\n" % (i, i)
                    for i in range(51, 0, -1))
    result = run(verify_arc, sets + message(), silent_dns.address, timeout=0.5, budget=1.5)
    assert result.result == "fail" and result.instances == 51 and "50" in result.reason, result
    assert silent_dns.queries_received() == 0


@pytest.mark.parametrize("raw", [
    b"",
    b"no header here at all",
    b" continuation first\r\nARC-Seal: i=1; d=example.net; s=s\r\n\r\nx\r\n",
    b"From: a@example.com\r\n\xff garbage\r\nARC-Seal: i=1; cv=none; d=example.net; s=s\r\n\r\nx\r\n",
    b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.net; s=s; b=AAAA\r\n\r\nx\r\n",
    b"ARC-Seal:i=1;cv=none;a=rsa-sha256;d=example.net;s=s;b=AAAA\r\nARC-Message-Signature:i=1;a=rsa-sha256;"
    b"d=example.net;s=s;h=from;bh=AAAA;b=AAAA\r\nARC-Authentication-Results:i=1; x; none\r\n\r\nx\r\n",
    b"ARC-Seal: i=1; ;;==\r\nARC-Seal: i=x\x00\r\n\r\n",
])
def test_malformed_input_never_raises(start_dns, raw):
    server = start_dns([])
    result = run(verify_arc, raw, server.address)
    assert result.result == ("fail" if b"ARC-Seal" in raw else "none"), result


def test_dns_that_never_answers_is_temperror_within_the_deadline(silent_dns, forwarded):
    started = time.monotonic()
    result = run(verify_arc, forwarded, silent_dns.address, timeout=0.5, budget=1.5)
    assert time.monotonic() - started < 4.5  # three times the 1.5 s budget
    assert (result.result, result.instances, result.sealer) == ("temperror", 1, "lists.example.net"), result


def test_a_huge_header_block_fails_without_dkimpy_parsing_it(start_dns, forwarded, author_key, list_key):
    server = start_dns([author_key.zone_line(), list_key.zone_line()])
    huge = b"X-Padding: a\r\n" + b" b\r\n" * 800_000 + forwarded
    result = run(verify_arc, huge, server.address)
    assert result.result == "fail" and "header block" in result.reason, result


def test_a_body_with_huge_blank_runs_fails_quickly(start_dns, author_key, list_key):
    server = start_dns([author_key.zone_line(), list_key.zone_line()])
    sealed = arc_seal(message(body="a" + " " * 20_000 + "b\r\n"), list_key, "lists.example.net")
    result = run(verify_arc, sealed, server.address)
    assert result.result == "fail" and "too costly" in result.reason, result
