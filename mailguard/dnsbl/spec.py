"""The blocklists' spec: `[dnsbl]` with its `[[dnsbl.zone]]` tables, and the RBL symbols (those
of hits are named by each zone's codes: README, "Blocklists")."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailguard.checks.spec import CheckSpec, Stage, SymbolSpec
from mailguard.dnsbl.codes import SYMBOL_NAME, parse_blocked, parse_code

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class DnsblZone:
    """One DNS blocklist: `[[dnsbl.zone]]`. The codes map answers to symbols (README, "Blocklists")."""

    zone: str = ""  # e.g. "zen.spamhaus.org"
    kind: Literal["ip", "domain"] = "ip"  # what is looked up: the client address, or domains
    # "ANSWER=SYMBOL:SCORE": ANSWER an address (127.0.0.2), a range (127.0.0.10-127.0.0.11), or
    # with bitmask = true a bit value (4). An answer no code names is "<zone's symbol>:<score>".
    codes: tuple[str, ...] = ()
    bitmask: bool = False  # answers are bit sets (SURBL/URIBL multi lists)
    symbol: str = ""  # for answers no code names; empty: no symbol for them
    score: float = 0.0
    # Answers meaning "this query was refused" (public resolver, over quota): RBL_BLOCKED, not hits.
    blocked: tuple[str, ...] = ()
    # kind "ip": a listing of the client address (not of a Received hop or a link) forces reject,
    # so every RCPT is refused (550 5.7.1) before the message is sent ([[lists.file]] reject alike).
    reject: bool = False
    # With reject: only these of the zone's symbols refuse (empty: every hit does).
    reject_symbols: tuple[str, ...] = ()

    def refuses(self, symbol: str) -> bool:
        """A client-address hit giving `symbol` refuses the client at RCPT."""
        return self.reject and (not self.reject_symbols or symbol in self.reject_symbols)


@dataclass(frozen=True)
class DnsblSettings:
    """DNS blocklists for the client address (DNSBL) and for the domains of links (URIBL/DBL)."""

    enabled: bool = True
    budget_ms: int = 3000
    max_domains: int = 20  # registered domains looked up per message (links first, in order)
    sender_domains: bool = False  # also look up the From and Reply-To domains in domain zones
    received_hop: bool = False  # also the first untrusted Received hop (behind other relays)
    failures_to_mark_down: int = 5  # consecutive timeouts/SERVFAILs before a zone is rested
    down_seconds: float = 300.0  # how long a failing zone is not asked
    zone: tuple[DnsblZone, ...] = (
        DnsblZone(zone="zen.spamhaus.org", kind="ip", codes=(
            "127.0.0.2=RBL_ZEN_SBL:4.0", "127.0.0.3=RBL_ZEN_CSS:2.0", "127.0.0.4-127.0.0.7=RBL_ZEN_XBL:4.0",
            "127.0.0.9=RBL_ZEN_DROP:5.0", "127.0.0.10-127.0.0.11=RBL_ZEN_PBL:1.5"),
            symbol="RBL_ZEN", score=2.0, blocked=("127.255.255.0/24",),
            # SBL, XBL and DROP on the connecting address are refused outright; CSS, PBL and
            # unnamed answers only score (README, "Blocklists": why).
            reject=True, reject_symbols=("RBL_ZEN_SBL", "RBL_ZEN_XBL", "RBL_ZEN_DROP")),
        DnsblZone(zone="dbl.spamhaus.org", kind="domain", codes=(
            "127.0.1.2=DBL_SPAM:5.0", "127.0.1.4=DBL_PHISH:6.0", "127.0.1.5=DBL_MALWARE:6.0",
            "127.0.1.6=DBL_BOTNET_CC:6.0", "127.0.1.102-127.0.1.106=DBL_ABUSED:2.5"),
            symbol="DBL_LISTED", score=3.0, blocked=("127.255.255.0/24",)),
    )


SYMBOLS = (
    SymbolSpec("RBL_BLOCKED", 0.0, "a blocklist refused the query (public resolver or over quota): not a hit"),
    SymbolSpec("RBL_TEMPERROR", 0.0, "a blocklist lookup failed or ran out of time"),
    SymbolSpec("RBL_ZONE_DOWN", 0.0, "a blocklist that failed repeatedly is resting"),
)
# The client address is looked up from connect on (the answer is ready by RCPT, where a listing
# in a reject zone refuses); everything else the message names at DATA.
CONNECT = Stage("DNSBL_CONNECT", "connect")
DATA = Stage("DNSBL")


_REFUSES = "; a listed client is refused at RCPT"  # in the description of a refusing symbol


def zone_symbols(settings: DnsblSettings) -> Iterator[SymbolSpec]:
    """The symbols of hits, as the zones' codes name them."""
    for zone in settings.zone:
        for code in zone.codes:
            try:
                rule = parse_code(code, zone.bitmask)
            except ValueError:
                continue  # validate() reports it
            yield SymbolSpec(rule.symbol, rule.score, f"listed in {zone.zone} ({code.partition('=')[0].strip()})"
                             + _REFUSES * zone.refuses(rule.symbol))
        if zone.symbol:
            yield SymbolSpec(zone.symbol, zone.score, f"listed in {zone.zone} (an answer no code names)"
                             + _REFUSES * zone.refuses(zone.symbol))


def validate(settings: DnsblSettings, fail: Fail) -> None:
    for i, z in enumerate(settings.zone):
        if not re.fullmatch(r"(?=.{1,200}$)([A-Za-z0-9_-]{1,63}\.)+[A-Za-z0-9-]{1,63}\.?", z.zone):
            fail.item("dnsbl.zone", i, "zone", f"{z.zone!r} is not a DNS zone name")
        for code in z.codes:
            try:
                parse_code(code, z.bitmask)
            except ValueError as exc:
                fail.item("dnsbl.zone", i, "codes", str(exc))
        for net in z.blocked:
            try:
                parse_blocked(net)
            except ValueError as exc:
                fail.item("dnsbl.zone", i, "blocked", str(exc))
        if z.symbol and not SYMBOL_NAME.match(z.symbol):
            fail.item("dnsbl.zone", i, "symbol", "upper-case letters, digits and '_'")
        if z.reject and z.kind != "ip":
            fail.item("dnsbl.zone", i, "reject", "only a kind = \"ip\" zone looks up the client address")
        if z.reject_symbols and not z.reject:
            fail.item("dnsbl.zone", i, "reject_symbols", "has no effect without reject = true")
        names = {parse_code(c, z.bitmask).symbol for c in z.codes} | ({z.symbol} if z.symbol else set())
        for name in z.reject_symbols:
            if name not in names:
                fail.item("dnsbl.zone", i, "reject_symbols",
                          f"{name!r} is not a symbol of this zone ({', '.join(sorted(names)) or 'none'})")
    for key in ("budget_ms", "max_domains", "failures_to_mark_down"):
        if getattr(settings, key) <= 0:
            fail("dnsbl", key, "must be greater than 0")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if not (config.dnsbl.enabled and config.dnsbl.zone):
        return []
    from mailguard.dnsbl.check import DnsblCheck
    from mailguard.dnsbl.zones import Zone

    zones = tuple(Zone.compile(z) for z in config.dnsbl.zone)
    stages = []
    for stage in (CONNECT, DATA):
        check = DnsblCheck(config.dnsbl, zones, services.resolver, services.zone_health, config.trusted_networks,
                           stage=stage.phase)
        if check.asks_anything:
            stages.append(stage.check(check, budget=check.budget + 0.5))
    return stages


SPEC = CheckSpec(name="DNSBL", stages=(CONNECT, DATA), build=build, symbols=SYMBOLS,
                 configured=lambda config: zone_symbols(config.dnsbl), network=True,
                 section="dnsbl", settings=DnsblSettings, validate=validate)
