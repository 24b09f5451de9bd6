"""Which recipients an advertising message may reach (Decree 91/2020 Art. 13(5) and 20(3)), taken
by the flow once the verdict says "deliver".

The advertiser is known only after DATA, when SMTP has one answer for all recipients. So the ad
goes to the recipients within their 24-hour limit who have not refused the advertiser, and is
held — quarantined, one releasable entry per recipient — for the others: never bounced (the
other recipients got it), never dropped. The slots are reserved here, atomically in the store,
and confirmed or released by the flow once the downstream answered.
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailguard.advertising.findings import AdFindings
from mailguard.advertising.identity import advertiser_key, recipient_key
from mailguard.scan.verdict import Action, Symbol
from mailguard.store.ledger import LedgerPort, Slot
from mailguard.store.refusals import RefusalsPort

OVER_LIMIT = "AD_OVER_DAILY_LIMIT"
MAX_UNSUBSCRIBE = 3  # mailto: addresses of one List-Unsubscribe remembered
_MAILTO = re.compile(r"<\s*mailto:([^>?\s]{1,254})", re.I)
AFTER_REFUSAL = "AD_AFTER_REFUSAL"


@dataclass(frozen=True)
class AdDelivery:
    """The ledger's answer for one ad: who gets it, who does not and why, and its header."""

    findings: AdFindings
    deliver: tuple[str, ...]  # recipients as the client gave them
    held: Mapping[str, Symbol] = field(default_factory=dict)  # recipient -> why it is held
    slots: tuple[Slot, ...] = ()  # the granted reservations, confirmed or released later
    header: str = ""  # the X-Advertising field of the delivered copy

    @property
    def reserved(self) -> list[int]:
        return [s.id for s in self.slots if s.id is not None]


def limit_for(settings, recipient: str, advertiser: str) -> int | None:
    """The recipient's limit for this advertiser: the most specific `[[advertising.agreement]]`
    (an address before `@domain`, a named advertiser before `*`), else `daily_limit`; None: no limit."""
    domain = recipient.rpartition("@")[2]
    best: tuple[int, object] | None = None
    for agreement in settings.agreement:
        who = agreement.recipient.strip().lower()
        if who.startswith("@"):
            rank = 0 if who[1:] == domain else None
        else:
            rank = 2 if recipient_key(who) == recipient else None
        if rank is None:
            continue
        whom = agreement.advertiser.strip().lower()
        if whom == "*":
            pass
        elif advertiser_key(whom) == advertiser:
            rank += 1
        else:
            continue
        if best is None or rank > best[0]:
            best = (rank, agreement.limit)
    if best is None:
        return settings.daily_limit
    return None if best[1] == "unlimited" else int(best[1])


def unsubscribe_addresses(values: Sequence[str]) -> list[str]:
    """The mailto: addresses of List-Unsubscribe fields (RFC 2369), as mailbox keys."""
    from urllib.parse import unquote

    found = [recipient_key(unquote(m.group(1))) for value in values for m in _MAILTO.finditer(value[:2000])]
    return list(dict.fromkeys(a for a in found if a))[:MAX_UNSUBSCRIBE]


def header_value(findings: AdFindings, place: int, limit: int | None) -> str:
    """The X-Advertising value, grammar fixed in CONTRACTS.md (README, "The X-Advertising header")."""
    return (f"yes; label={findings.label}; optout={findings.optout}; "
            f"advertiser={'present' if findings.advertiser_info else 'missing'}; "
            f"count={place}/{'unlimited' if limit is None else limit}")


def parse_header(value: str) -> dict[str, str]:
    """The X-Advertising value back into its parts ({"advertising": "yes", "label": "QC", ...});
    ValueError when it is not in the grammar."""
    head, *params = [p.strip() for p in value.split(";")]
    if head != "yes":
        raise ValueError(f"X-Advertising starts with {head!r}, not 'yes'")
    parts = {"advertising": head}
    for param in params:
        name, eq, val = param.partition("=")
        if not eq or name in parts:
            raise ValueError(f"bad parameter {param!r}")
        parts[name] = val
    allowed = {"label": {"QC", "AD", "missing"}, "optout": {"header", "body", "missing"},
               "advertiser": {"present", "missing"}}
    for name, values in allowed.items():
        if parts.get(name) not in values:
            raise ValueError(f"{name}={parts.get(name)!r} is not one of {sorted(values)}")
    place, slash, limit = parts.get("count", "").partition("/")
    if not (place.isdigit() and slash and (limit.isdigit() or limit == "unlimited")):
        raise ValueError(f"count={parts.get('count')!r} is not N/L")
    if set(parts) != {"advertising", "label", "optout", "advertiser", "count"}:
        raise ValueError(f"unknown parameters {sorted(set(parts) - set(allowed) - {'advertising', 'count'})}")
    return parts


async def decide(findings: AdFindings, rcpts: Sequence[str], sender: str, from_addresses: Sequence[str],
                 settings, scoped: bool, ledger: LedgerPort, refusals: RefusalsPort, scores: Mapping[str, float],
                 now: float | None = None) -> AdDelivery:
    """Refusals first (a refused recipient takes no slot), then one atomic reservation for the
    rest. The ledger counts the check's advertiser (the authenticated From domain, else the
    envelope sender's). A refusal holds the ad when it names that advertiser, the envelope
    sender's domain or a From domain even unauthenticated: an unsigned copy of a refused
    advertiser's ad must not pass for another advertiser's.

    The limit holds only for recipients subject to the Decree (`scoped`: every recipient is in
    `[advertising] domains`, or outbound mode); others are counted without a limit (their
    X-Advertising count still tells), so a site that declared no domain never holds an ad back.
    A refusal, an explicit wish, holds everywhere."""
    now = time.time() if now is None else now
    advertiser = findings.advertiser or advertiser_key(sender)
    names = [a for a in dict.fromkeys((advertiser, advertiser_key(sender), *map(advertiser_key, from_addresses))) if a]
    keys = {rcpt: recipient_key(rcpt) for rcpt in rcpts}
    held: dict[str, Symbol] = {}
    for rcpt, key in keys.items():
        refused = await refusals.refused(key, names) if key and names else set()
        if refused:
            held[rcpt] = Symbol(AFTER_REFUSAL, scores[AFTER_REFUSAL],
                                f"{key} refused {', '.join(sorted(refused))}", force=Action.QUARANTINE)
    nominal = {keys[r]: limit_for(settings, keys[r], advertiser) for r in rcpts if r not in held and keys[r]}
    limits = nominal if scoped else {key: None for key in nominal}
    slots = await ledger.reserve(advertiser, limits, now) if advertiser and limits else []
    by_key = {s.recipient: s for s in slots}
    deliver = []
    for rcpt in rcpts:
        if rcpt in held:
            continue
        slot = by_key.get(keys[rcpt])
        if slot is not None and not slot.granted:
            held[rcpt] = Symbol(OVER_LIMIT, scores[OVER_LIMIT],
                                f"ad {slot.place} in 24 hours from {advertiser} to {keys[rcpt]} "
                                f"(limit {slot.limit})", force=Action.QUARANTINE)
        else:
            deliver.append(rcpt)
    granted = tuple(s for s in slots if s.granted)
    top = max(granted, key=lambda s: s.place, default=None)
    header = header_value(findings, top.place if top else 0,
                          nominal.get(top.recipient, settings.daily_limit) if top else settings.daily_limit)
    return AdDelivery(findings, tuple(deliver), held, granted, f"X-Advertising: {header}")
