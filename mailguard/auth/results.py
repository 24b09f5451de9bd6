"""What each authentication method concluded: plain values for symbols and Authentication-Results.

Result words are RFC 8601's (§2.7): spf pass|fail|softfail|neutral|none|temperror|permerror,
dkim pass|fail|neutral|none|temperror|permerror (per signature), dmarc pass|fail|none|temperror|
permerror, arc pass|fail|none (plus temperror when a key lookup failed).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass | fail | softfail | neutral | none | temperror | permerror
    identity: str  # "mailfrom" or "helo": what was checked (RFC 7208 §2.3, §2.4)
    domain: str  # the domain whose policy was evaluated ("" when there was none to check)
    sender: str  # the address checked: MAIL FROM, or postmaster@HELO for a null sender
    client_ip: str
    record: str = ""  # the domain's SPF record as published ("" when none or unknown)
    explanation: str = ""  # pyspf's explanation or the error text


@dataclass(frozen=True)
class DkimSignature:
    """One DKIM-Signature header and its verification."""

    result: str  # pass | fail | neutral | temperror | permerror
    domain: str  # d=
    selector: str  # s=
    algorithm: str  # a=, e.g. rsa-sha256, ed25519-sha256, rsa-sha1
    identity: str = ""  # i= when present
    b_prefix: str = ""  # first 8 characters of b= (RFC 6008 header.b, tells signatures apart)
    reason: str = ""  # why, when not pass ("body hash mismatch", "no key for ...", ...)
    key_bits: int = 0  # RSA key size, 0 for ed25519 or unknown

    @property
    def weak(self) -> bool:
        """rsa-sha1 (RFC 8301 forbids signing with it) or an RSA key under 1024 bits."""
        return self.algorithm == "rsa-sha1" or 0 < self.key_bits < 1024


@dataclass(frozen=True)
class ArcResult:
    result: str  # pass | fail | none | temperror
    instances: int = 0  # highest i= seen
    sealer: str = ""  # d= of the ARC-Seal with the highest i= (who sealed last)
    reason: str = ""


@dataclass(frozen=True)
class DmarcResult:
    result: str  # pass | fail | none | temperror | permerror
    from_domain: str = ""  # RFC5322.From domain ("" when none could be found)
    policy_domain: str = ""  # where the record was found (From domain or organizational domain)
    policy: str = ""  # the policy that applies to this From domain: none | quarantine | reject
    applied: str = ""  # after pct sampling (RFC 7489 §6.6.4): none | quarantine | reject
    record: str = ""
    spf_aligned: bool = False
    dkim_aligned: bool = False
    reason: str = ""


@dataclass(frozen=True)
class AuthOutcome:
    """Everything the AUTH check concluded, for checks that build on it (ctx.output_of("AUTH"))."""

    spf: SpfResult | None
    dkim: tuple[DkimSignature, ...]
    dmarc: DmarcResult | None
    arc: ArcResult | None

    def authenticated_domains(self) -> frozenset[str]:
        """Domains proven by an SPF pass (the MAIL FROM/HELO domain) or a valid DKIM signature (d=)."""
        found = {sig.domain.lower() for sig in self.dkim if sig.result == "pass" and sig.domain}
        if self.spf is not None and self.spf.result == "pass" and self.spf.domain:
            found.add(self.spf.domain.lower())
        return frozenset(found)
