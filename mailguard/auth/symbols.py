"""Authentication results → scored symbols (names: CONTRACTS.md; scores and descriptions: the
spec's table, mailguard/auth/spec.py; re-scorable in rules/)."""
from __future__ import annotations

from mailguard.auth.results import ArcResult, DkimSignature, DmarcResult, SpfResult
from mailguard.auth.spec import SYMBOLS, AuthSettings
from mailguard.scan.verdict import Action, Symbol

_DECLARED = {s.name: s for s in SYMBOLS}


def _sym(name: str, detail: str, force: Action | None = None, score: float | None = None,
         neutral: bool = False) -> Symbol:
    declared = _DECLARED[name]
    return Symbol(name, declared.score if score is None else score, detail, force, declared.description, neutral)


def spf_symbols(spf: SpfResult | None) -> list[Symbol]:
    if spf is None:
        return []
    who = f"{spf.identity}={spf.sender or spf.domain} ip={spf.client_ip}"
    detail = f"{who} record=\"{spf.record}\"" if spf.record else who
    if spf.result not in ("pass", "none") and spf.explanation:
        detail += f" ({spf.explanation})"
    name = f"SPF_{spf.result.upper()}"
    return [_sym(name if name in _DECLARED else "SPF_PERMERROR", detail)]


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
