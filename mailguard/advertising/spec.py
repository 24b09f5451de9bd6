"""The ADVERTISING check's spec: `[advertising]` with its `[[advertising.agreement]]` tables, and
the AD_* symbols (README, "Advertising mail (Decree 91/2020)").

The check itself (mailguard/advertising/check.py) emits AD_DETECTED and either AD_LABELLED or
the compliance symbols; AD_OVER_DAILY_LIMIT and AD_AFTER_REFUSAL are declared here but emitted
by the flow, which keeps the ledger and the refusals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailguard import domains
from mailguard.checks.spec import CheckSpec, Stage, SymbolSpec

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class Agreement:
    """A recipient's agreement with an advertiser to more than the daily limit (Art. 13(5))."""

    recipient: str = ""  # an address, or "@domain" for every address of that domain
    advertiser: str = ""  # an advertiser's domain (its organizational domain counts), or "*"
    limit: int | Literal["unlimited"] = 0  # ads per 24 hours (>= 1), or "unlimited"; required


@dataclass(frozen=True)
class AdvertisingSettings:
    """Advertising mail under Decree 91/2020/ND-CP (../shared/DECREE91.md)."""

    enabled: bool = True
    budget_ms: int = 500  # waiting for AUTH's results is added to it
    domains: tuple[str, ...] = ()  # recipient domains (and their subdomains) subject to the Decree
    label_subject: bool = False  # the flow prefixes "[QC] " to unlabelled ads
    outbound: bool = False  # this host sends for its users: every recipient is subject to the Decree
    daily_limit: int = 3  # ads per recipient per advertiser per 24 hours (Art. 13(5))
    agreement: tuple[Agreement, ...] = ()


# The compliance symbols: scored only when the message is subject to the Decree (see check.py).
COMPLIANCE = ("AD_NO_LABEL", "AD_NO_OPTOUT", "AD_NO_ADVERTISER_INFO")
OUTSIDE = "recipient domain not subject to Decree 91"

SYMBOLS = (
    SymbolSpec("AD_DETECTED", 0.0, "advertising mail (Decree 91/2020); the detail is the evidence"),
    SymbolSpec("AD_LABELLED", 0.0, "advertising labelled [QC] or [AD] first in the Subject, with an opt-out "
                                   "and the advertiser's identity"),
    SymbolSpec("AD_NO_LABEL", 2.0, "advertising without [QC] or [AD] first in the Subject (Art. 18); "
                                   "0 outside [advertising] domains"),
    SymbolSpec("AD_NO_OPTOUT", 2.0, "advertising without List-Unsubscribe or an opt-out link at the end "
                                    "(Art. 20); 0 outside [advertising] domains"),
    SymbolSpec("AD_NO_ADVERTISER_INFO", 1.0, "advertising without the advertiser's name and phone, email or "
                                             "address (Art. 19); 0 outside [advertising] domains"),
    SymbolSpec("AD_OVER_DAILY_LIMIT", 4.0, "more ads from this advertiser to a recipient in 24 hours than "
                                           "the limit (Art. 13(5))"),
    SymbolSpec("AD_AFTER_REFUSAL", 6.0, "an ad from an advertiser the recipient refused (Art. 20(3))"),
)
STAGE = Stage("ADVERTISING")


def _recipient_ok(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at) and bool(domains.normalize(domain)) and local == local.strip() and " " not in local


def validate(settings: AdvertisingSettings, fail: Fail) -> None:
    if settings.budget_ms <= 0:
        fail("advertising", "budget_ms", "must be greater than 0")
    if settings.daily_limit < 1:
        fail("advertising", "daily_limit", "must be 1 or more (Decree 91 Art. 13(5): 3)")
    for name in settings.domains:
        if not domains.normalize(name):
            fail("advertising", "domains", f"{name!r} is not a domain name")
    seen: set[tuple[str, str]] = set()
    for i, agreement in enumerate(settings.agreement):
        if not agreement.recipient:
            fail.item("advertising.agreement", i, "recipient", "an address or @domain is required")
        if not _recipient_ok(agreement.recipient):
            fail.item("advertising.agreement", i, "recipient",
                      f"{agreement.recipient!r}: an address (user@example.vn) or @domain (@example.vn)")
        if not agreement.advertiser:
            fail.item("advertising.agreement", i, "advertiser", "a domain or \"*\" is required")
        if agreement.advertiser != "*" and not domains.normalize(agreement.advertiser):
            fail.item("advertising.agreement", i, "advertiser",
                      f"{agreement.advertiser!r}: a domain (shop.example.vn) or \"*\" for every advertiser")
        limit = agreement.limit
        if limit != "unlimited" and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            fail.item("advertising.agreement", i, "limit",
                      "required: a whole number of ads per 24 hours (1 or more) or \"unlimited\"")
        key = (agreement.recipient.lower(), agreement.advertiser.lower())
        if key in seen:
            fail.item("advertising.agreement", i, "advertiser",
                      f"{agreement.recipient} and {agreement.advertiser} already have an agreement")
        seen.add(key)


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if not config.advertising.enabled:
        return []
    from mailguard.advertising.check import AdvertisingCheck

    # It waits for AUTH's results (the advertiser is the authenticated From domain when proven).
    waits = config.auth.budget_ms / 1000 + 0.5 if config.auth.enabled and not offline else 0.0
    return [STAGE.check(AdvertisingCheck(config.advertising), budget=waits + config.advertising.budget_ms / 1000)]


SPEC = CheckSpec(
    name="ADVERTISING", stages=(STAGE,), build=build, symbols=SYMBOLS,
    section="advertising", settings=AdvertisingSettings, validate=validate,
)
