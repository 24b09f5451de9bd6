"""The authentication check's spec: `[auth]`, and the SPF, DKIM, DMARC and ARC symbols.

Default scores follow what Rspamd and SpamAssassin users are used to: authentication alone
never makes mail spam, except a DMARC failure under the domain owner's p=reject/quarantine,
whose action is the config's choice ([auth] dmarc_reject_action, dmarc_quarantine_action).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailguard.checks.spec import CheckSpec, Stage, SymbolSpec

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class AuthSettings:
    """SPF, DKIM, DMARC and ARC, and the Authentication-Results header."""

    enabled: bool = True
    authserv_id: str = ""  # empty: server.hostname
    budget_ms: int = 5000
    dmarc_reject_action: Literal["reject", "quarantine", "score"] = "reject"
    dmarc_quarantine_action: Literal["quarantine", "score"] = "quarantine"
    trusted_arc_sealers: tuple[str, ...] = ()  # domains (ARC-Seal d=) whose chain overrides DMARC
    threads: int = 4  # worker threads for the synchronous SPF and ARC libraries


SYMBOLS = (
    SymbolSpec("SPF_PASS", -0.2, "the client may send for the SPF domain"),
    SymbolSpec("SPF_FAIL", 1.0, "the SPF domain says this client may not send for it"),
    SymbolSpec("SPF_SOFTFAIL", 0.5, "the SPF domain says this client is probably not allowed"),
    SymbolSpec("SPF_NEUTRAL", 0.0, "the SPF domain makes no assertion for this client"),
    SymbolSpec("SPF_NONE", 0.0, "no SPF record"),
    SymbolSpec("SPF_TEMPERROR", 0.0, "SPF could not be checked now (DNS)"),
    SymbolSpec("SPF_PERMERROR", 0.3, "the SPF record is broken"),
    SymbolSpec("DKIM_VALID", -0.2, "a DKIM signature verified"),
    SymbolSpec("DKIM_INVALID", 0.5, "a DKIM signature did not verify"),
    SymbolSpec("DKIM_NONE", 0.0, "no DKIM signature"),
    SymbolSpec("DKIM_TEMPERROR", 0.0, "a DKIM key could not be fetched now (DNS)"),
    SymbolSpec("DKIM_PERMERROR", 0.0, "a DKIM signature or its key is unusable"),
    SymbolSpec("DMARC_PASS", -0.5, "the From domain is authenticated (aligned SPF or DKIM)"),
    SymbolSpec("DMARC_FAIL_REJECT", 3.5, "DMARC failed; the domain asks to reject"),
    SymbolSpec("DMARC_FAIL_QUARANTINE", 1.5, "DMARC failed; the domain asks to quarantine"),
    SymbolSpec("DMARC_FAIL_NONE", 0.1, "DMARC failed; the domain only monitors"),
    SymbolSpec("DMARC_NONE", 0.0, "the From domain publishes no DMARC policy"),
    SymbolSpec("DMARC_TEMPERROR", 0.0, "DMARC could not be evaluated now (DNS)"),
    SymbolSpec("DMARC_PERMERROR", 1.0, "no single From domain to evaluate DMARC on"),
    SymbolSpec("ARC_PASS", 0.0, "the ARC chain is valid"),
    SymbolSpec("ARC_FAIL", 0.0, "the ARC chain is broken"),
    SymbolSpec("ARC_NONE", 0.0, "no ARC chain"),
    SymbolSpec("ARC_TEMPERROR", 0.0, "an ARC key could not be fetched now (DNS)"),
    SymbolSpec("ARC_ALLOW", -1.0, "a trusted forwarder's valid ARC chain overrides the DMARC failure"),
)
STAGE = Stage("AUTH")


def validate(settings: AuthSettings, fail: Fail) -> None:
    for key in ("budget_ms", "threads"):
        if getattr(settings, key) <= 0:
            fail("auth", key, "must be greater than 0")
    if settings.authserv_id and not re.fullmatch(r"[A-Za-z0-9._-]+", settings.authserv_id):
        fail("auth", "authserv_id", "a host name (letters, digits, '.', '-', '_')")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if not config.auth.enabled:
        return []
    from mailguard.auth.check import AuthCheck

    auth = AuthCheck(config.auth, config.authserv_id, services.resolver, services.executor)
    return [STAGE.check(auth, budget=auth.budget + 0.5)]  # the check keeps inside its own budget


SPEC = CheckSpec(name="AUTH", stages=(STAGE,), build=build, symbols=SYMBOLS, network=True,
                 section="auth", settings=AuthSettings, validate=validate)
