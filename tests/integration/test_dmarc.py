"""DMARC policy discovery and alignment against a real DNS server (unbound)."""
from __future__ import annotations

import asyncio
import random

import pytest

from mailguard import domains
from mailguard.auth import dmarc
from mailguard.auth.results import DkimSignature, SpfResult
from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver
from mailguard.scan.addresses import parse_field
from realdns import txt

RECORDS = [
    txt("_dmarc.example.com.", "v=DMARC1; p=reject; rua=mailto:d@example.com"),
    txt("_dmarc.strict.example.net.", "v=DMARC1; p=quarantine; adkim=s; aspf=s"),
    txt("_dmarc.example.org.", "v=DMARC1; p=none; sp=reject"),
    txt("_dmarc.sub.example.org.", "v=DMARC1; p=quarantine"),
    txt("_dmarc.half.example.", "v=DMARC1; p=reject; pct=0"),
    txt("_dmarc.twice.example.", "v=DMARC1; p=reject"),
    txt("_dmarc.twice.example.", "v=DMARC1; p=none"),
    txt("_dmarc.broken.example.", "v=DMARC1; p=bogus"),
    txt("_dmarc.other.example.", "v=spf1 -all"),
]


def spf(result: str, domain: str) -> SpfResult:
    return SpfResult(result, "mailfrom", domain, f"bounce@{domain}", "192.0.2.1")


def sig(result: str, domain: str) -> DkimSignature:
    return DkimSignature(result, domain, "sel", "rsa-sha256")


@pytest.fixture
def evaluate(start_dns):
    server = start_dns(RECORDS)

    def run(from_values, spf_result=None, dkim=(), seed=1):
        async def go():
            resolver = Resolver.from_settings(DnsSettings(servers=(server.address,), timeout=2.0))
            return await dmarc.evaluate([parse_field(v) for v in from_values], spf_result, list(dkim), resolver, random.Random(seed))
        return asyncio.run(go())

    return run


def test_pass_through_aligned_spf_only(evaluate):
    r = evaluate(["Alice <alice@example.com>"], spf("pass", "mail.example.com"), [sig("fail", "example.com")])
    assert r.result == "pass" and r.spf_aligned and not r.dkim_aligned
    assert r.policy == "reject"


def test_pass_through_aligned_dkim_only(evaluate):
    r = evaluate(["alice@example.com"], spf("fail", "example.com"), [sig("pass", "news.example.com")])
    assert r.result == "pass" and r.dkim_aligned and not r.spf_aligned


def test_unaligned_passes_fail_with_the_domains_policy(evaluate):
    r = evaluate(["alice@example.com"], spf("pass", "bulk.example.net"), [sig("pass", "example.net")])
    assert (r.result, r.policy, r.applied) == ("fail", "reject", "reject")


def test_strict_alignment_wants_the_exact_domain(evaluate):
    relaxed_would_pass = evaluate(["a@strict.example.net"], spf("pass", "mail.strict.example.net"),
                                  [sig("pass", "example.net")])
    assert relaxed_would_pass.result == "fail" and relaxed_would_pass.policy == "quarantine"
    exact = evaluate(["a@strict.example.net"], None, [sig("pass", "strict.example.net")])
    assert exact.result == "pass"


def test_subdomain_without_record_uses_the_organizational_sp(evaluate):
    r = evaluate(["a@shop.example.org"], spf("fail", "shop.example.org"))
    assert r.policy_domain == "example.org" and r.policy == "reject" and r.result == "fail"
    # The organizational domain itself gets p= (none), not sp=.
    assert evaluate(["a@example.org"], spf("fail", "example.org")).policy == "none"


def test_a_subdomain_with_its_own_record_uses_its_p(evaluate):
    r = evaluate(["a@sub.example.org"], spf("fail", "sub.example.org"))
    assert (r.policy_domain, r.policy) == ("sub.example.org", "quarantine")


def test_org_domain_fallback_from_a_deep_subdomain(evaluate):
    r = evaluate(["a@a.b.c.example.com"], spf("pass", "example.com"))
    assert r.policy_domain == "example.com" and r.result == "pass"


def test_pct_zero_applies_the_next_weaker_policy(evaluate):
    r = evaluate(["a@half.example"], spf("fail", "half.example"))
    assert (r.result, r.policy, r.applied) == ("fail", "reject", "quarantine")


def test_no_record_several_records_and_invalid_record_are_none(evaluate):
    assert evaluate(["a@nothing.example"]).result == "none"
    assert evaluate(["a@twice.example"]).result == "none"
    assert evaluate(["a@broken.example"]).result == "none"
    assert evaluate(["a@other.example"]).result == "none"


def test_a_temporary_error_of_an_aligned_method_is_not_a_failure(evaluate):
    r = evaluate(["a@example.com"], SpfResult("temperror", "mailfrom", "example.com", "b@example.com", "192.0.2.1"))
    assert r.result == "temperror"


def test_from_headers_that_name_no_single_domain(evaluate):
    assert evaluate([]).result == "permerror"
    assert evaluate(["a@example.com", "b@example.net"]).result == "permerror"
    assert evaluate(["a@example.com, b@example.net"]).result == "permerror"
    assert evaluate(["undisclosed"]).result == "permerror"


def test_dead_dns_is_temperror(silent_dns):
    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(silent_dns.address,), timeout=0.3))
        return await dmarc.evaluate([parse_field("a@example.com")], None, [], resolver, random.Random(1))

    assert asyncio.run(go()).result == "temperror"


def test_record_parsing():
    rec = dmarc.parse_record("v=DMARC1;p=Reject; sp=none; pct=50; adkim=s")
    assert (rec.policy, rec.subdomain_policy, rec.pct, rec.adkim, rec.aspf) == ("reject", "none", 50, "s", "r")
    assert dmarc.parse_record("v=DMARC1; rua=mailto:x@example.com").policy == "none"
    with pytest.raises(dmarc.DmarcRecordError):
        dmarc.parse_record("v=DMARC1; p=maybe")
    assert domains.organizational("www.bbc.co.uk") == "bbc.co.uk"
    assert domains.organizational("co.uk") == "co.uk"
