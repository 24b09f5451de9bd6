"""The Authentication-Results header (RFC 8601), written with the `authres` library."""
from __future__ import annotations

import authres
import authres.arc
import authres.dmarc
from authres.core import AuthenticationResultProperty

from mailguard.auth.results import ArcResult, DkimSignature, DmarcResult, SpfResult


def authentication_results(authserv_id: str, spf: SpfResult | None, dkim: list[DkimSignature] | None,
                           dmarc: DmarcResult | None, arc: ArcResult | None) -> str:
    """One header field, each method's result on its own folded line."""
    results = []
    if spf is not None:
        who = {"smtp_helo": spf.sender.partition("@")[2]} if spf.identity == "helo" else \
            {"smtp_mailfrom": spf.sender or spf.domain}
        results.append(authres.SPFAuthenticationResult(result=spf.result, **who))
    for sig in dkim or ():
        props = [AuthenticationResultProperty("header", "b", sig.b_prefix)] if sig.b_prefix else []
        results.append(authres.DKIMAuthenticationResult(
            result=sig.result, header_d=sig.domain, header_s=sig.selector or None,
            header_a=sig.algorithm or None, header_i=sig.identity or None, properties=props,
            reason=sig.reason or None))
    if dkim is not None and not dkim:
        results.append(authres.DKIMAuthenticationResult(result="none"))
    if dmarc is not None:
        results.append(authres.dmarc.DMARCAuthenticationResult(
            result=dmarc.result, header_from=dmarc.from_domain or None, policy=dmarc.policy or None,
            reason=dmarc.reason if dmarc.result not in ("pass",) and dmarc.reason else None))
    if arc is not None:
        results.append(authres.arc.ARCAuthenticationResult(
            result=arc.result, header_as_d=arc.sealer or None))
    if not results:
        return f"Authentication-Results: {authserv_id}; none"
    return f"Authentication-Results: {authserv_id};\r\n\t" + ";\r\n\t".join(str(r) for r in results)


MAX_FIELD = 4000  # characters of one field read back


def passed_domains(value: str, authserv_id: str) -> set[str]:
    """The domains an Authentication-Results field of ours (`authserv_id`) says passed: DKIM's
    header.d, SPF's smtp.mailfrom domain. Another server's field, or one authres cannot read, says
    nothing (we strip forged copies of ours on the way in, so ours can be believed)."""
    try:
        parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value[:MAX_FIELD]}")
    except Exception:
        return set()
    if (parsed.authserv_id or "").lower() != authserv_id.lower():
        return set()
    found = set()
    for result in parsed.results:
        if (result.result or "").lower() != "pass":
            continue
        for prop in result.properties:
            if (result.method, prop.type, prop.name) in (("dkim", "header", "d"), ("spf", "smtp", "mailfrom")):
                found.add(str(prop.value).rpartition("@")[2])
    return found
