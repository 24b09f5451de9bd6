"""Authentication results → scored symbols (names: CONTRACTS.md; scores re-scorable in rules/).

Default scores follow what Rspamd and SpamAssassin users are used to: authentication alone
never makes mail spam, except a DMARC failure under the domain owner's p=reject/quarantine,
whose action is the config's choice ([auth] dmarc_reject_action, dmarc_quarantine_action).
"""
from __future__ import annotations

from mailguard.auth.results import ArcResult, DkimSignature, DmarcResult, SpfResult
from mailguard.config import AuthSettings
from mailguard.scan.verdict import Action, Symbol

SPF_SCORES = {"pass": -0.2, "fail": 1.0, "softfail": 0.5, "neutral": 0.0, "none": 0.0,
              "temperror": 0.0, "permerror": 0.3}
DESCRIPTIONS = {
    "SPF_PASS": "the client may send for the SPF domain",
    "SPF_FAIL": "the SPF domain says this client may not send for it",
    "SPF_SOFTFAIL": "the SPF domain says this client is probably not allowed",
    "SPF_NEUTRAL": "the SPF domain makes no assertion for this client",
    "SPF_NONE": "no SPF record",
    "SPF_TEMPERROR": "SPF could not be checked now (DNS)",
    "SPF_PERMERROR": "the SPF record is broken",
    "DKIM_VALID": "a DKIM signature verified",
    "DKIM_INVALID": "a DKIM signature did not verify",
    "DKIM_NONE": "no DKIM signature",
    "DKIM_TEMPERROR": "a DKIM key could not be fetched now (DNS)",
    "DKIM_PERMERROR": "a DKIM signature or its key is unusable",
    "DMARC_PASS": "the From domain is authenticated (aligned SPF or DKIM)",
    "DMARC_FAIL_REJECT": "DMARC failed; the domain asks to reject",
    "DMARC_FAIL_QUARANTINE": "DMARC failed; the domain asks to quarantine",
    "DMARC_FAIL_NONE": "DMARC failed; the domain only monitors",
    "DMARC_NONE": "the From domain publishes no DMARC policy",
    "DMARC_TEMPERROR": "DMARC could not be evaluated now (DNS)",
    "DMARC_PERMERROR": "no single From domain to evaluate DMARC on",
    "ARC_PASS": "the ARC chain is valid",
    "ARC_FAIL": "the ARC chain is broken",
    "ARC_NONE": "no ARC chain",
    "ARC_TEMPERROR": "an ARC key could not be fetched now (DNS)",
    "ARC_ALLOW": "a trusted forwarder's valid ARC chain overrides the DMARC failure",
}
DEFAULT_SCORES = {
    **{f"SPF_{r.upper()}": s for r, s in SPF_SCORES.items()},
    "DKIM_VALID": -0.2, "DKIM_INVALID": 0.5, "DKIM_NONE": 0.0, "DKIM_TEMPERROR": 0.0, "DKIM_PERMERROR": 0.0,
    "DMARC_PASS": -0.5, "DMARC_FAIL_REJECT": 3.5, "DMARC_FAIL_QUARANTINE": 1.5, "DMARC_FAIL_NONE": 0.1,
    "DMARC_NONE": 0.0, "DMARC_TEMPERROR": 0.0, "DMARC_PERMERROR": 1.0,
    "ARC_PASS": 0.0, "ARC_FAIL": 0.0, "ARC_NONE": 0.0, "ARC_TEMPERROR": 0.0, "ARC_ALLOW": -1.0,
}
BUILTIN_SYMBOLS = frozenset(DEFAULT_SCORES)


def _sym(name: str, detail: str, force: Action | None = None, score: float | None = None,
         neutral: bool = False) -> Symbol:
    return Symbol(name, DEFAULT_SCORES[name] if score is None else score, detail, force, DESCRIPTIONS[name],
                  neutral)


def spf_symbols(spf: SpfResult | None) -> list[Symbol]:
    if spf is None:
        return []
    who = f"{spf.identity}={spf.sender or spf.domain} ip={spf.client_ip}"
    detail = f"{who} record=\"{spf.record}\"" if spf.record else who
    if spf.result not in ("pass", "none") and spf.explanation:
        detail += f" ({spf.explanation})"
    name = f"SPF_{spf.result.upper()}"
    return [_sym(name if name in DEFAULT_SCORES else "SPF_PERMERROR", detail)]


def dkim_symbols(signatures: list[DkimSignature]) -> list[Symbol]:
    if not signatures:
        return [_sym("DKIM_NONE", "")]
    by_name: dict[str, list[str]] = {}
    names = {"pass": "DKIM_VALID", "fail": "DKIM_INVALID", "neutral": "DKIM_INVALID",
             "temperror": "DKIM_TEMPERROR", "permerror": "DKIM_PERMERROR"}
    for sig in signatures:
        text = f"d={sig.domain} s={sig.selector} a={sig.algorithm}"
        if sig.weak:
            text += " weak"
        if sig.result != "pass" and sig.reason:
            text += f" ({sig.reason})"
        by_name.setdefault(names.get(sig.result, "DKIM_PERMERROR"), []).append(text)
    return [_sym(name, "; ".join(details)) for name, details in by_name.items()]


def dmarc_symbols(dmarc: DmarcResult | None, arc: ArcResult | None, settings: AuthSettings) -> list[Symbol]:
    if dmarc is None:
        return []
    where = f"from={dmarc.from_domain}" + (f" policy={dmarc.policy_domain}" if dmarc.policy_domain and
                                           dmarc.policy_domain != dmarc.from_domain else "")
    if dmarc.result == "pass":
        how = "+".join(k for k, ok in (("spf", dmarc.spf_aligned), ("dkim", dmarc.dkim_aligned)) if ok)
        return [_sym("DMARC_PASS", f"{where} aligned={how}")]
    if dmarc.result == "none":
        return [_sym("DMARC_NONE", f"{where} ({dmarc.reason})" if dmarc.from_domain else dmarc.reason)]
    if dmarc.result == "temperror":
        return [_sym("DMARC_TEMPERROR", f"{where} ({dmarc.reason})")]
    if dmarc.result == "permerror":
        return [_sym("DMARC_PERMERROR", dmarc.reason)]
    name = f"DMARC_FAIL_{dmarc.applied.upper()}"
    detail = f"{where} p={dmarc.policy}" + (f" applied={dmarc.applied}" if dmarc.applied != dmarc.policy else "")
    if arc and arc.result == "pass" and arc.sealer.lower() in {s.lower() for s in settings.trusted_arc_sealers}:
        # A trusted forwarder vouches that the message authenticated before it changed it.
        return [_sym(name, f"{detail}; overridden by ARC", score=0.0, neutral=True),
                _sym("ARC_ALLOW", f"sealer={arc.sealer} i={arc.instances}")]
    force = None
    if dmarc.applied == "reject":
        force = {"reject": Action.REJECT, "quarantine": Action.QUARANTINE}.get(settings.dmarc_reject_action)
    elif dmarc.applied == "quarantine" and settings.dmarc_quarantine_action == "quarantine":
        force = Action.QUARANTINE
    return [_sym(name, detail, force)]


def arc_symbols(arc: ArcResult | None) -> list[Symbol]:
    if arc is None:
        return []
    name = {"pass": "ARC_PASS", "fail": "ARC_FAIL", "none": "ARC_NONE"}.get(arc.result, "ARC_TEMPERROR")
    detail = f"sealer={arc.sealer} i={arc.instances}" if arc.instances else ""
    if arc.result != "pass" and arc.reason:
        detail = f"{detail} ({arc.reason})".strip()
    return [_sym(name, detail)]
