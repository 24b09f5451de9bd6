"""DKIM verification (dkimpy in a worker thread) with keys served by a real DNS server (unbound)."""
from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dkimtools import DkimKey, ed25519_key, message, opendkim_key, opendkim_sign, rsa_key, sign
from mailguard.auth.dkim import verify_dkim
from mailguard.auth.results import DkimSignature
from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver


@pytest.fixture(scope="module")
def com_key() -> DkimKey:
    return rsa_key("example.com", "sel")


@pytest.fixture(scope="module")
def net_key() -> DkimKey:
    return rsa_key("example.net", "news")


def verify(raw: bytes, dns_address: str, timeout: float = 2.0, budget: float = 10.0) -> list[DkimSignature]:
    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(dns_address,), timeout=timeout))
        with ThreadPoolExecutor(max_workers=2) as executor:
            return await verify_dkim(raw, resolver, executor, time.monotonic() + budget)

    return asyncio.run(go())


def only(signatures: list[DkimSignature]) -> DkimSignature:
    assert len(signatures) == 1, signatures
    return signatures[0]


def test_rsa_sha256_signature_passes(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    raw = sign(message(), com_key)
    sig = only(verify(raw, server.address))
    assert sig.result == "pass", sig
    assert (sig.domain, sig.selector, sig.algorithm, sig.identity) == ("example.com", "sel", "rsa-sha256",
                                                                       "@example.com")
    assert sig.key_bits == 2048 and not sig.weak
    b_value = re.search(rb"[;\s]b=([\sA-Za-z0-9+/=]+)", raw.split(b"\r\nFrom:")[0]).group(1)
    assert sig.b_prefix == b"".join(b_value.split())[:8].decode() and len(sig.b_prefix) == 8


def test_ed25519_signature_passes(start_dns):
    key = ed25519_key("example.com", "ed")
    server = start_dns([key.zone_line()])
    sig = only(verify(sign(message(), key), server.address))
    assert sig.result == "pass", sig
    assert sig.algorithm == "ed25519-sha256" and sig.key_bits == 0 and not sig.weak


def test_opendkim_signature_passes(start_dns):
    # opendkim-testmsg signs rsa-sha1; its key stub says h=sha256 unless told to allow sha1 too.
    key = opendkim_key("example.org", "sel", hash_algorithms="sha1:sha256")
    server = start_dns([key.zone_line()])
    sig = only(verify(opendkim_sign(message(sender="alice@example.org"), key), server.address))
    assert sig.result == "pass", sig
    assert (sig.domain, sig.selector, sig.algorithm) == ("example.org", "sel", "rsa-sha1")
    assert sig.weak


def test_a_key_restricted_to_sha256_refuses_an_rsa_sha1_signature(start_dns):
    key = opendkim_key("example.org", "sel")  # opendkim-genkey's default: h=sha256
    assert "h=sha256" in key.record
    server = start_dns([key.zone_line()])
    sig = only(verify(opendkim_sign(message(sender="alice@example.org"), key), server.address))
    assert sig.result == "permerror" and "sha1" in sig.reason, sig


def test_rsa_sha1_signature_is_verified_and_weak(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    sig = only(verify(sign(message(), com_key, algorithm="rsa-sha1"), server.address))
    assert sig.result == "pass" and sig.algorithm == "rsa-sha1" and sig.weak, sig


def test_body_altered_after_signing_fails(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    raw = sign(message(body="Pay 10 EUR.\r\n"), com_key).replace(b"Pay 10 EUR.", b"Pay 99 EUR.")
    sig = only(verify(raw, server.address))
    assert sig.result == "fail" and sig.reason == "body hash mismatch", sig


def test_signed_header_altered_fails(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    raw = sign(message(subject="Lunch"), com_key).replace(b"Subject: Lunch", b"Subject: Dinner")
    sig = only(verify(raw, server.address))
    assert sig.result == "fail" and sig.reason == "signature did not verify", sig


def test_key_not_published_is_permerror(start_dns, com_key):
    server = start_dns([])
    sig = only(verify(sign(message(), com_key), server.address))
    assert sig.result == "permerror" and sig.reason == "no key for sel._domainkey.example.com", sig


def test_revoked_key_is_permerror(start_dns, com_key):
    server = start_dns([com_key.zone_line("v=DKIM1; k=rsa; p=")])
    sig = only(verify(sign(message(), com_key), server.address))
    assert sig.result == "permerror" and "revoked" in sig.reason, sig


def test_malformed_key_is_permerror(start_dns, com_key):
    server = start_dns([com_key.zone_line("v=DKIM1; k=rsa; p=bm90IGEga2V5")])
    sig = only(verify(sign(message(), com_key), server.address))
    assert sig.result == "permerror" and "malformed key" in sig.reason, sig


def test_key_of_the_wrong_type_is_permerror(start_dns, com_key):
    ed = ed25519_key("example.com", "sel")  # an ed25519 key where the rsa-sha256 signature looks
    server = start_dns([ed.zone_line()])
    sig = only(verify(sign(message(), com_key), server.address))
    assert sig.result == "permerror" and "k=ed25519" in sig.reason, sig


def test_two_signatures_one_good_one_broken_each_with_its_domain(start_dns, com_key, net_key):
    server = start_dns([com_key.zone_line(), net_key.zone_line()])
    good = sign(message(), com_key)
    # A second signature from example.net whose body hash no longer matches.
    bad = sign(message(body="Something else.\r\n"), net_key).split(b"\r\nFrom:")[0] + b"\r\n"
    signatures = verify(bad + good, server.address)
    assert [(s.domain, s.result) for s in signatures] == [("example.net", "fail"), ("example.com", "pass")]
    assert signatures[0].reason == "body hash mismatch"
    assert signatures[0].b_prefix != signatures[1].b_prefix


def test_no_signature_gives_an_empty_list(start_dns):
    server = start_dns([])
    assert verify(message(), server.address) == []


def test_a_signature_without_b_is_permerror(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA\r\n" + message()
    sig = only(verify(raw, server.address))
    assert sig.result == "permerror" and "b=" in sig.reason and sig.domain == "example.com", sig


@pytest.mark.parametrize("raw", [
    b"",
    b"\r\n\r\nbody only\r\n",
    b"no header here at all",
    b"\x00\x00\x00\r\n\r\n",
    b" continuation first\r\nDKIM-Signature: v=1; d=example.com; s=sel\r\n\r\nx\r\n",
    b"From: a@example.com\r\n\xff\xfe garbage line\r\nDKIM-Signature: v=1; d=example.com; s=sel\r\n\r\nx\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=ex\xffample.com; s=s\x00el; h=from; bh=AAAA; b=AAAA\r\n\r\nx\r\n",
    b"DKIM-Signature: ;;;==;\r\n\r\n",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; i=example.com; s=sel; h=from; bh=AAAA; b=AAAA\r\n\r\n",
])
def test_malformed_input_never_raises(start_dns, raw):
    server = start_dns([])
    signatures = verify(raw, server.address)
    assert all(s.result == "permerror" for s in signatures), signatures
    if b"DKIM-Signature" in raw:
        assert len(signatures) == 1


def test_signatures_beyond_the_cap_are_not_looked_at(start_dns, com_key):
    server = start_dns([com_key.zone_line()])
    raw = sign(message(), com_key)
    header = raw.split(b"\r\nFrom:")[0] + b"\r\n"
    signatures = verify(header * 25 + raw, server.address)
    assert len(signatures) == 10 and all(s.result == "pass" for s in signatures)


def test_dns_that_never_answers_is_temperror_within_the_deadline(silent_dns, com_key):
    raw = sign(message(), com_key)
    started = time.monotonic()
    sig = only(verify(raw, silent_dns.address, timeout=0.5, budget=1.5))
    assert time.monotonic() - started < 4.5  # three times the 1.5 s budget
    assert sig.result == "temperror" and sig.domain == "example.com", sig


def test_verification_that_outlasts_the_deadline_returns_by_it(start_dns, com_key):
    # Ten signatures over a 30 MB body: seconds of canonicalization and hashing, against a budget
    # of one second.
    server = start_dns([com_key.zone_line()])
    raw = sign(message(body=("x" * 70 + "\r\n") * 420_000), com_key, canonicalize=(b"relaxed", b"relaxed"))
    header = raw.split(b"\r\nFrom:")[0] + b"\r\n"

    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(server.address,), timeout=2.0))
        with ThreadPoolExecutor(max_workers=2) as executor:
            started = time.monotonic()
            signatures = await verify_dkim(header * 9 + raw, resolver, executor, started + 1.0)
            return signatures, time.monotonic() - started

    signatures, elapsed = asyncio.run(go())
    # Generous: a running regex of dkimpy's canonicalization holds the GIL until it returns, so on
    # a loaded machine the loop wakes a little after the deadline.
    assert elapsed < 3.0
    assert len(signatures) == 10
    assert signatures[-1].result == "temperror" and signatures[-1].reason == "time ran out", signatures[-1]
    assert {s.result for s in signatures} <= {"pass", "temperror"}


def test_a_huge_header_block_is_not_parsed_by_dkimpy(start_dns, com_key):
    # dkimpy's header parser is quadratic in continuation lines: 3 MB of them would cost it
    # tens of seconds; the signature is reported without that work.
    server = start_dns([com_key.zone_line()])
    raw = sign(message(), com_key)
    huge = raw.replace(b"\r\nFrom:", b"\r\nX-Padding: a\r\n" + b" b\r\n" * 800_000 + b"From:", 1)
    sig = only(verify(huge, server.address))
    assert sig.result == "permerror" and "header block" in sig.reason and sig.domain == "example.com", sig


def test_a_signature_folded_with_huge_white_space_is_refused_quickly(start_dns, com_key):
    # dkimpy's b= regex backtracks quadratically on such runs, holding the GIL (10 s for 60 KB).
    server = start_dns([com_key.zone_line()])
    raw = sign(message(), com_key).replace(b" b=", b" b=" + b"\r\n " * 4_000, 1)
    sig = only(verify(raw, server.address))
    assert sig.result == "permerror" and "white space" in sig.reason, sig


def test_a_body_with_huge_blank_runs_is_not_canonicalized_relaxed(start_dns, com_key, net_key):
    # Relaxed body canonicalization is quadratic in a run of blanks that does not end a line.
    server = start_dns([com_key.zone_line(), net_key.zone_line()])
    msg = message(body="a" + " " * 20_000 + "b\r\n")
    raw = sign(sign(msg, com_key, canonicalize=(b"relaxed", b"simple")), net_key,
               canonicalize=(b"relaxed", b"relaxed"))
    signatures = verify(raw, server.address)
    assert [(s.domain, s.result) for s in signatures] == [("example.net", "permerror"), ("example.com", "pass")]
    assert "too costly" in signatures[0].reason


def test_an_rsa_key_under_1024_bits_is_a_permerror(start_dns):
    # RFC 8301 §3.2: such keys can be factored, so their signatures prove nothing.
    key = rsa_key("example.com", "small", bits=768)
    server = start_dns([key.zone_line()])
    sig = only(verify(sign(message(), key), server.address))
    assert sig.result == "permerror", sig
