"""The ADVERTISING check: AD_DETECTED and either AD_LABELLED or the compliance symbols
(AD_NO_LABEL, AD_NO_OPTOUT, AD_NO_ADVERTISER_INFO), with an AdFindings as the details for the
flow (ledger, refusals, X-Advertising). A message that is not advertising gets neither.

The compliance symbols weigh only where the Decree applies: when every recipient is in
`[advertising] domains` (each with its subdomains), or in outbound mode. Elsewhere they are
emitted at 0 and *neutral*, so that no `[scores]` override can give them weight there (the
pipeline leaves neutral symbols as they are); inside, they carry their declared score, which
`[scores]` may change.

The advertiser is the From organizational domain when AUTH proved it (a valid DKIM signature
or an SPF pass of the same organizational domain), else the envelope sender's."""
from __future__ import annotations

from dataclasses import dataclass

from mailguard import domains
from mailguard.advertising.detect import Detection, detect
from mailguard.advertising.findings import AdFindings
from mailguard.advertising.identity import advertiser_key
from mailguard.advertising.spec import COMPLIANCE, OUTSIDE, SYMBOLS, AdvertisingSettings
from mailguard.auth.results import AuthOutcome
from mailguard.scan.pipeline import CheckOutput, ScanContext
from mailguard.scan.verdict import Symbol

_DECLARED = {s.name: s for s in SYMBOLS}


def in_scope(settings: AdvertisingSettings, rcpts: tuple[str, ...]) -> bool:
    """Every recipient is in a domain subject to the Decree (or this host sends outbound)."""
    if settings.outbound:
        return True
    return bool(rcpts) and all(domains.covering(domains.of_address(r.strip().strip("<>")), settings.domains)
                               for r in rcpts)


@dataclass
class AdvertisingCheck:
    settings: AdvertisingSettings

    async def __call__(self, ctx: ScanContext) -> CheckOutput:
        found = detect(ctx.message)
        if not found.is_ad:
            return CheckOutput()
        advertiser, authenticated = await self._advertiser(ctx)
        findings = AdFindings(
            evidence=found.evidence, label=found.label.label,  # type: ignore[arg-type]
            label_seen=found.label.seen, optout=found.footer.optout,  # type: ignore[arg-type]
            advertiser_info=found.footer.advertiser_info, advertiser=advertiser, authenticated=authenticated)
        return CheckOutput(tuple(self.symbols(findings, found, in_scope(self.settings, ctx.facts.rcpts))),
                           details=findings)

    @staticmethod
    def symbols(findings: AdFindings, found: Detection, inside: bool) -> list[Symbol]:
        out = [_symbol("AD_DETECTED", f"score {found.score:g}: " + "; ".join(findings.evidence))]
        if findings.compliant:
            return out + [_symbol("AD_LABELLED", f"[{findings.label}], opt-out {findings.optout}, advertiser "
                                                 f"{found.footer.identity}")]
        problems: dict[str, str] = {}
        if findings.label == "missing":
            problems["AD_NO_LABEL"] = (f"near-miss {findings.label_seen}; the Subject must start with [QC] or [AD]"
                                       if findings.label_seen else "the Subject does not start with [QC] or [AD]")
        if findings.optout == "missing":
            problems["AD_NO_OPTOUT"] = "no List-Unsubscribe and no opt-out link at the end of the body"
        if not findings.advertiser_info:
            problems["AD_NO_ADVERTISER_INFO"] = ("no advertiser name with a phone, email or address before the "
                                                 f"opt-out (found: {found.footer.identity or 'nothing'})")
        for name in COMPLIANCE:
            if name in problems:
                out.append(_symbol(name, problems[name]) if inside
                           else _symbol(name, f"{OUTSIDE}; {problems[name]}", zero=True))
        return out

    @staticmethod
    async def _advertiser(ctx: ScanContext) -> tuple[str, bool]:
        from_domains = [domains.of_address(a.address) for a in ctx.message.addresses("from") if "@" in a.address]
        from_org = advertiser_key(from_domains[0]) if len(set(from_domains)) == 1 and from_domains[0] else ""
        if from_org:
            output = await ctx.output_of("AUTH")
            outcome = output.details if output and isinstance(output.details, AuthOutcome) else None
            if outcome is not None:
                proven = {advertiser_key(d) for d in outcome.authenticated_domains()} - {""}
                if from_org in proven:
                    return from_org, True
        return advertiser_key(ctx.facts.mail_from) if ctx.facts.mail_from else "", False


def _symbol(name: str, detail: str, zero: bool = False) -> Symbol:
    declared = _DECLARED[name]
    if zero:
        return Symbol(name, 0.0, detail, None, declared.description, neutral=True)
    return Symbol(name, declared.score, detail, None, declared.description)
