"""The AUTH check as the pipeline runs it: SPF, DKIM, ARC and DMARC together, keys and policies
served by a real DNS server (unbound), symbols and the Authentication-Results header out."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dkimtools import DkimKey, arc_seal, message, rsa_key, sign
from mailguard.auth.check import AuthCheck
from mailguard.auth.spec import AuthSettings
from mailguard.config import DnsSettings
from mailguard.dnsresolver import Resolver
from mailguard.scan.facts import ClientFacts, MessageFacts
from mailguard.scan.pipeline import CheckOutput, ScanContext
from mailguard.scan.verdict import Action
from realdns import txt

CLIENT = "192.0.2.10"


@pytest.fixture(scope="module")
def bank_key() -> DkimKey:
    return rsa_key("bank.example", "s1")


@pytest.fixture(scope="module")
def esp_key() -> DkimKey:
    return rsa_key("mailer.bank.example", "esp")


@pytest.fixture(scope="module")
def list_key() -> DkimKey:
    return rsa_key("lists.example.net", "arc")


@pytest.fixture
def dns(start_dns, bank_key, esp_key, list_key):
    return start_dns([
        bank_key.zone_line(), esp_key.zone_line(), list_key.zone_line(),
        txt("bank.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("bounces.bank.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("_dmarc.bank.example.", "v=DMARC1; p=reject"),
        txt("strict.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("mail.strict.example.", "v=spf1 ip4:192.0.2.0/24 -all"),
        txt("_dmarc.strict.example.", "v=DMARC1; p=reject; aspf=s"),
        txt("_dmarc.parent.example.", "v=DMARC1; p=none; sp=quarantine"),
        txt("parent.example.", "v=spf1 -all"),
        txt("shop.parent.example.", "v=spf1 -all"),
    ])


def run_check(raw: bytes, dns_address: str, *, mail_from: str, client: str = CLIENT, budget_ms: int = 5000,
              dns_timeout: float = 2.0, **settings) -> CheckOutput:
    async def go():
        resolver = Resolver.from_settings(DnsSettings(servers=(dns_address,), timeout=dns_timeout))
        with ThreadPoolExecutor(max_workers=4) as executor:
            check = AuthCheck(AuthSettings(budget_ms=budget_ms, **settings), "mx.test.example", resolver, executor)
            facts = MessageFacts(ClientFacts(ip=client, helo="client.example"), mail_from, ("bob@example.org",), "Q1")
            return await check(ScanContext(facts, raw))

    return asyncio.run(go())


def names(output: CheckOutput) -> dict[str, object]:
    return {s.name: s for s in output.symbols}


def test_dmarc_passes_on_aligned_spf_alone(dns):
    out = run_check(message(sender="alerts@bank.example"), dns.address, mail_from="bounce@bounces.bank.example")
    got = names(out)
    assert {"SPF_PASS", "DKIM_NONE", "DMARC_PASS"} <= set(got)
    assert "aligned=spf" in got["DMARC_PASS"].detail
    [header] = out.headers
    assert header.startswith("Authentication-Results: mx.test.example;")
    assert "spf=pass smtp.mailfrom=bounce@bounces.bank.example" in header
    assert "dmarc=pass header.from=bank.example" in header


def test_dmarc_passes_on_aligned_dkim_alone(dns, esp_key):
    # The ESP signs as a subdomain of the From domain (relaxed alignment) and bounces elsewhere.
    raw = sign(message(sender="alerts@bank.example"), esp_key)
    got = names(run_check(raw, dns.address, mail_from="bounce@esp.example", client="203.0.113.7"))
    assert {"SPF_NONE", "DKIM_VALID", "DMARC_PASS"} <= set(got)
    assert "aligned=dkim" in got["DMARC_PASS"].detail


def test_strict_spf_alignment_refuses_a_subdomain(dns):
    got = names(run_check(message(sender="ceo@strict.example"), dns.address, mail_from="b@mail.strict.example"))
    assert "SPF_PASS" in got and "DMARC_FAIL_REJECT" in got


def test_subdomain_policy_comes_from_the_organizational_domain(dns):
    got = names(run_check(message(sender="a@shop.parent.example"), dns.address, mail_from="a@shop.parent.example"))
    assert "DMARC_FAIL_QUARANTINE" in got, got
    assert "policy=parent.example" in got["DMARC_FAIL_QUARANTINE"].detail


def test_forged_bank_mail_is_rejected(dns):
    got = names(run_check(message(sender="alerts@bank.example"), dns.address, mail_from="alerts@bank.example",
                          client="203.0.113.66"))
    assert "SPF_FAIL" in got and "DKIM_NONE" in got
    assert got["DMARC_FAIL_REJECT"].force is Action.REJECT


@pytest.mark.parametrize("setting, force", [("quarantine", Action.QUARANTINE), ("score", None)])
def test_what_a_reject_policy_does_is_configurable(dns, setting, force):
    got = names(run_check(message(sender="alerts@bank.example"), dns.address, mail_from="alerts@bank.example",
                          client="203.0.113.66", dmarc_reject_action=setting))
    assert got["DMARC_FAIL_REJECT"].force is force


def forwarded_by_list(bank_key: DkimKey, list_key: DkimKey) -> bytes:
    """bank.example signs; the list tags the Subject (DKIM breaks) and seals what it saw."""
    signed = sign(message(subject="Statement", sender="alerts@bank.example"), bank_key)
    altered = signed.replace(b"Subject: Statement", b"Subject: [team] Statement")
    return arc_seal(altered, list_key, "lists.example.net", "dkim=pass header.d=bank.example header.s=s1")


def test_a_trusted_sealer_overrides_the_dmarc_failure(dns, bank_key, list_key):
    raw = forwarded_by_list(bank_key, list_key)
    out = run_check(raw, dns.address, mail_from="list-bounces@lists.example.net", client="203.0.113.20",
                    trusted_arc_sealers=("lists.example.net",))
    got = names(out)
    assert {"DKIM_INVALID", "ARC_PASS", "ARC_ALLOW"} <= set(got), got
    assert got["DMARC_FAIL_REJECT"].score == 0 and got["DMARC_FAIL_REJECT"].force is None
    assert got["ARC_ALLOW"].score < 0
    assert "arc=pass" in out.headers[0] and "header.d=bank.example" in out.headers[0]


def test_an_untrusted_sealer_changes_nothing(dns, bank_key, list_key):
    raw = forwarded_by_list(bank_key, list_key)
    got = names(run_check(raw, dns.address, mail_from="list-bounces@lists.example.net", client="203.0.113.20"))
    assert "ARC_PASS" in got and "ARC_ALLOW" not in got
    assert got["DMARC_FAIL_REJECT"].force is Action.REJECT


def test_a_dead_dns_server_gives_temperrors_within_the_budget(silent_dns, bank_key):
    raw = sign(message(sender="alerts@bank.example"), bank_key)
    started = time.monotonic()
    out = run_check(raw, silent_dns.address, mail_from="alerts@bank.example", budget_ms=1000, dns_timeout=0.5)
    elapsed = time.monotonic() - started
    got = names(out)
    assert {"SPF_TEMPERROR", "DKIM_TEMPERROR", "DMARC_TEMPERROR"} <= set(got), got
    assert not any(s.force for s in out.symbols)
    assert elapsed < 4.0
    assert "spf=temperror" in out.headers[0] and "dkim=temperror" in out.headers[0]
