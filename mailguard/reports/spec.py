"""The spam reports' spec: `[reports]` (README, "Spam reports by forwarding"), and the
REPORTED_SOURCE check over the local block list that users' reports feed.

The settings serve the whole of report handling: the flow takes mail to the report addresses
at RCPT, the intake reads the forwarded original, sources are counted in the store and listed
after `block_after_reporters` distinct reporters, acknowledgements and ARF reports go out
through the outbox. This module only declares and validates them; the check it builds asks
the store which of a message's sources are listed (mailguard/reports/check.py).

The check needs the store's SourcesPort (`CheckServices.sources`, filled by the server): where
there is no store — `mailguard scan`, which writes nothing and reads no state of the server —
it is not built, and REPORTED_SOURCE never appears.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mailguard import domains
from mailguard.advertising.identity import recipient_key
from mailguard.checks.spec import CheckSpec, Stage, SymbolSpec

if TYPE_CHECKING:
    from mailguard.checks.registry import CheckServices
    from mailguard.config import Config, Fail
    from mailguard.scan.pipeline import Check


@dataclass(frozen=True)
class ReportsSettings:
    """Spam reports by forwarding (Decree 91/2020 Art. 10(1)): users forward spam (or mail
    wrongly taken for spam) to addresses mailguard takes for itself."""

    enabled: bool = True
    budget_ms: int = 500  # the REPORTED_SOURCE check; the wait for AUTH's results is added
    # Where users report: full addresses ("abuse@example.vn") or local parts ("spam": at
    # every domain of local_domains).
    spam_addresses: tuple[str, ...] = ()
    ham_addresses: tuple[str, ...] = ()  # "this was not spam"
    local_domains: tuple[str, ...] = ()  # the site's own domains: whose users may report
    block_after_reporters: int = 3  # distinct reporters of one source within window_days
    window_days: float = 7.0
    block_days: float = 30.0  # how long a listed source stays listed (renewed by new reports)
    never_block: str = ""  # a list file; "": the shipped rules/never-block.txt
    max_reports_per_hour: int = 20  # per reporter; more are kept, not counted or learnt
    acknowledge: bool = True  # tell the reporter the report was received and what was done
    acknowledge_from: str = ""  # "": postmaster@<first of local_domains>
    forward_to: tuple[str, ...] = ()  # ARF (RFC 5965) recipients, e.g. "chongthurac@vncert.vn"
    # Where mailguard's own mail (acknowledgements, ARF) goes: "" is [relay] downstream. In front
    # mode Postfix judges mailguard's own address there and will not relay for it to outside
    # addresses (forward_to): name a Postfix listener that does (README, "What goes out").
    relay: str = ""
    forward_mode: Literal["each", "digest"] = "each"  # one ARF per report, or one digest a day
    deliver_reports: bool = False  # also relay reports to a mailbox of that name downstream

    def addresses(self, kind: Literal["spam", "ham"]) -> tuple[str, ...]:
        """The report addresses of a kind, in full and lower case: local parts at every local
        domain, in order, each once."""
        entries = self.spam_addresses if kind == "spam" else self.ham_addresses
        out: list[str] = []
        for entry in entries:
            if "@" in entry:
                out.append(recipient_key(entry))
            else:
                out += [recipient_key(f"{entry}@{d}") for d in self.local_domains]
        return tuple(dict.fromkeys(a for a in out if a))

    def kind_of(self, rcpt: str) -> Literal["spam", "ham"] | None:
        """Whether `rcpt` is a report address, and of which kind."""
        address = recipient_key(rcpt)
        if not address:
            return None
        if address in self.addresses("spam"):
            return "spam"
        if address in self.addresses("ham"):
            return "ham"
        return None

    @property
    def acknowledge_sender(self) -> str:
        """The From of acknowledgements ("" when none can be had: validation refuses that)."""
        if self.acknowledge_from:
            return self.acknowledge_from
        return f"postmaster@{domains.normalize(self.local_domains[0])}" if self.local_domains else ""

    @property
    def window_seconds(self) -> float:
        return self.window_days * 86400.0

    @property
    def block_seconds(self) -> float:
        return self.block_days * 86400.0


SYMBOL = SymbolSpec("REPORTED_SOURCE", 6.0,
                    "a source of this message (client IP, sender, authenticated domain or link domain) is on "
                    "the local block list that users' spam reports feed ([reports]); the detail names the entries")
STAGE = Stage("REPORTED_SOURCE")

# RFC 5321 dot-atom local parts (quoted local parts are not taken for report addresses).
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def valid_address(text: str) -> bool:
    """`local@domain` with a dot-atom local part and a domain name with a dot."""
    local, at, domain = text.rpartition("@")
    name = domains.normalize(domain)
    return bool(at) and bool(_LOCAL.fullmatch(local)) and bool(name) and "." in name


def validate(settings: ReportsSettings, fail: Fail) -> None:
    for key in ("budget_ms", "window_days", "block_days"):
        if getattr(settings, key) <= 0:
            fail("reports", key, "must be greater than 0")
    if settings.block_after_reporters < 1:
        fail("reports", "block_after_reporters", "must be 1 or more (distinct reporters before a source is blocked)")
    if settings.max_reports_per_hour < 1:
        fail("reports", "max_reports_per_hour", "must be 1 or more (reports per reporter per hour)")
    for name in settings.local_domains:
        if not domains.normalize(name) or "." not in domains.normalize(name):
            fail("reports", "local_domains", f"{name!r} is not a domain name")
    for key in ("spam_addresses", "ham_addresses"):
        for entry in getattr(settings, key):
            if "@" in entry:
                if not valid_address(entry):
                    fail("reports", key, f"{entry!r} is not an address (abuse@example.vn) or a local part (spam)")
            elif not _LOCAL.fullmatch(entry):
                fail("reports", key, f"{entry!r} is not an address (abuse@example.vn) or a local part (spam)")
            elif not settings.local_domains:
                fail("reports", key, f"{entry!r} is a local part: [reports] local_domains must name the "
                                     "domains it stands for (or write the address in full)")
    both = set(settings.addresses("spam")) & set(settings.addresses("ham"))
    if both:
        fail("reports", "ham_addresses", f"{', '.join(sorted(both))}: also a spam address")
    if settings.acknowledge_from and not valid_address(settings.acknowledge_from):
        fail("reports", "acknowledge_from", f"{settings.acknowledge_from!r} is not an address")
    if (settings.acknowledge and not settings.acknowledge_sender
            and (settings.spam_addresses or settings.ham_addresses)):
        fail("reports", "acknowledge_from", "required when local_domains is empty (its default is "
                                            "postmaster@<the first of local_domains>), or acknowledge = false")
    if settings.relay:
        from mailguard.config import parse_host_port  # spec modules do not import config at load

        try:
            parse_host_port(settings.relay)
        except ValueError as exc:
            fail("reports", "relay", str(exc))
    for address in settings.forward_to:
        if not valid_address(address):
            fail("reports", "forward_to", f"{address!r} is not an address")


def build(config: Config, services: CheckServices, offline: bool) -> list[Check]:
    if not config.reports.enabled or services.sources is None:
        return []  # no store (mailguard scan): nothing to ask
    from mailguard.reports.check import ReportedSourceCheck
    from mailguard.reports.never_block import NeverBlock

    never_block = NeverBlock.load(config.reports.never_block, config.reports.local_domains)
    # It waits for AUTH's results (the authenticated sender domain is one of the sources).
    waits = config.auth.budget_ms / 1000 + 0.5 if config.auth.enabled and not offline else 0.0
    return [STAGE.check(ReportedSourceCheck(services.sources, never_block),
                        budget=waits + config.reports.budget_ms / 1000)]


SPEC = CheckSpec(
    name="REPORTS", stages=(STAGE,), build=build, symbols=(SYMBOL,),
    section="reports", settings=ReportsSettings, validate=validate, path_keys=("never_block",),
)
