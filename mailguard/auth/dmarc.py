"""DMARC (RFC 7489): policy discovery, identifier alignment, and the policy that applies.

The organizational domain comes from the Public Suffix List shipped in `publicsuffixlist`
(no network at run time). Reports (rua/ruf) are not sent; the tags are accepted and ignored.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from mailguard.auth.results import DkimSignature, DmarcResult, SpfResult
from mailguard.dnsresolver import DnsTempError, Resolver
from mailguard.scan.addresses import AddressField
from mailguard import domains

POLICIES = ("none", "quarantine", "reject")
_WEAKER = {"reject": "quarantine", "quarantine": "none", "none": "none"}


@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p=
    subdomain_policy: str  # sp= (p= when absent)
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"
    text: str = ""


class DmarcRecordError(ValueError):
    pass


def parse_record(text: str) -> DmarcRecord:
    """A DMARC record's tags (RFC 7489 §6.3); DmarcRecordError when it is not a usable record."""
    tags: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip())
    if tags.get("v") != "DMARC1":
        raise DmarcRecordError("not v=DMARC1")
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        # §6.6.3: a record without a valid p= but with rua= is applied as p=none.
        if "rua" in tags:
            policy = "none"
        else:
            raise DmarcRecordError(f"invalid or missing p= ({tags.get('p', '')!r})")
    sub = tags.get("sp", "").lower()
    pct_text = tags.get("pct", "100")
    pct = int(pct_text) if pct_text.isdigit() else 100
    return DmarcRecord(policy=policy, subdomain_policy=sub if sub in POLICIES else policy,
                       pct=min(pct, 100), adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
                       aspf="s" if tags.get("aspf", "r").lower() == "s" else "r", text=text)


def aligned(identifier: str, from_domain: str, mode: str) -> bool:
    identifier, from_domain = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if mode == "s":
        return identifier == from_domain
    org = domains.organizational(identifier)
    return bool(org) and org == domains.organizational(from_domain)


def from_domain_of(from_fields: Sequence[AddressField]) -> tuple[str, str]:
    """(domain, problem): the one RFC5322.From domain (§6.6.1), or "" and why there is none."""
    if not from_fields:
        return "", "no From header"
    domains = {a.address.rpartition("@")[2].strip().lower().rstrip(".")
               for field in from_fields for a in field.addresses if "@" in a.address}
    domains.discard("")
    if len(from_fields) > 1 and len(domains) > 1:
        return "", "several From headers with different domains"
    if not domains:
        return "", "no domain in From"
    if len(domains) > 1:
        return "", "From names several domains"
    return domains.pop(), ""


async def _fetch_record(resolver: Resolver, domain: str) -> tuple[DmarcRecord | None, str]:
    """The record at _dmarc.DOMAIN, or None and why; raises DnsTempError."""
    answer = await resolver.lookup(f"_dmarc.{domain}", "TXT")
    texts = [t.decode("utf-8", "replace") for t in answer.texts()]
    candidates = [t for t in texts if t.strip().startswith("v=DMARC1")]
    if not candidates:
        return None, "no record"
    if len(candidates) > 1:
        return None, "several records (ignored, RFC 7489 §6.6.3)"
    try:
        return parse_record(candidates[0]), ""
    except DmarcRecordError as exc:
        return None, f"invalid record: {exc}"


async def evaluate(from_fields: Sequence[AddressField], spf: SpfResult | None, dkim: list[DkimSignature],
                   resolver: Resolver, rng: random.Random) -> DmarcResult:
    from_domain, problem = from_domain_of(from_fields)
    if not from_domain:
        return DmarcResult("permerror", reason=problem)
    org = domains.organizational(from_domain) or from_domain
    try:
        record, why = await _fetch_record(resolver, from_domain)
        policy_domain = from_domain
        if record is None and org != from_domain:
            record, why = await _fetch_record(resolver, org)
            policy_domain = org
    except DnsTempError as exc:
        return DmarcResult("temperror", from_domain, reason=str(exc))
    if record is None:
        return DmarcResult("none", from_domain, reason=why)

    policy = record.policy if policy_domain == from_domain else record.subdomain_policy
    spf_ok = bool(spf and spf.result == "pass" and spf.domain and aligned(spf.domain, from_domain, record.aspf))
    dkim_ok = any(sig.result == "pass" and aligned(sig.domain, from_domain, record.adkim) for sig in dkim)
    common = dict(from_domain=from_domain, policy_domain=policy_domain, policy=policy,
                  record=record.text, spf_aligned=spf_ok, dkim_aligned=dkim_ok)
    if spf_ok or dkim_ok:
        return DmarcResult("pass", applied="none", **common)
    # A failure that a temporary error may have caused is not a failure yet (no false rejects).
    spf_temp = bool(spf and spf.result == "temperror" and aligned(spf.domain or from_domain, from_domain, record.aspf))
    dkim_temp = any(sig.result == "temperror" and aligned(sig.domain, from_domain, record.adkim) for sig in dkim)
    if spf_temp or dkim_temp:
        return DmarcResult("temperror", reason="an aligned SPF or DKIM result is a temporary error", **common)
    # §6.6.4: pct below 100 applies the policy to that share; the rest get the next weaker one.
    applied = policy if record.pct >= 100 or rng.random() * 100 < record.pct else _WEAKER[policy]
    return DmarcResult("fail", applied=applied, reason="neither SPF nor DKIM aligned with From", **common)
