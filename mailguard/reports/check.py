"""The REPORTED_SOURCE check: is one of this message's sources on the local block list that
users' spam reports feed (mailguard/store/sources.py)?

At DATA it asks the store, in one call, about the message's sources: the client address, the
envelope sender and From addresses, the domains AUTH proved (SPF pass, valid DKIM; as their
organizational domains) and the registered domains of the first MAX_LINK_DOMAINS links. A source
the never-block list covers is not asked about (and so never scores, even when an entry was
listed before the list named it). Hits give one REPORTED_SOURCE symbol whose detail names each
entry, `ip:192.0.2.7 (4 reporters)`.

`message_sources` is the one way a message's sources are written, so that what the reports'
intake counts and what this check asks about are the same keys.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mailguard.auth.results import AuthOutcome
from mailguard.reports.never_block import NeverBlock
from mailguard.reports.sourcekeys import source_key
from mailguard.reports.spec import SYMBOL
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Action, Symbol
from mailguard.store.sources import SourceKind, SourcesPort

MAX_LINK_DOMAINS = 20  # registered link domains asked about per message, in order of appearance
MAX_ADDRESSES = 10  # From addresses (a From field may hold several)


def message_sources(*, client_ip: str | None, addresses: Iterable[str] = (),
                    authenticated: Iterable[str] = (), links: Iterable[str] = (),
                    never_block: NeverBlock | None = None) -> list[tuple[SourceKind, str]]:
    """The (kind, value) sources of a message, normalized, each once, in this order: "ip" the
    client address; "address" each sender address; "domain" the organizational domain of each
    authenticated domain; "link" each registered link domain (at most MAX_LINK_DOMAINS). Those
    `never_block` covers are left out."""
    found: list[tuple[SourceKind, str]] = []
    ip = source_key("ip", client_ip or "")
    if ip:
        found.append(("ip", ip))
    found += [("address", a) for a in (source_key("address", a) for a in addresses) if a]
    found += [("domain", d) for d in (source_key("domain", d) for d in authenticated) if d]
    link_domains = [d for d in (source_key("link", d) for d in links) if d]
    found += [("link", d) for d in list(dict.fromkeys(link_domains))[:MAX_LINK_DOMAINS]]
    unique = list(dict.fromkeys(found))
    if never_block is not None:
        unique = [(kind, value) for kind, value in unique if not never_block.covers(kind, value)]
    return unique


@dataclass
class ReportedSourceCheck:
    sources: SourcesPort
    never_block: NeverBlock | None = None
    clock: Callable[[], float] = field(default=time.time)

    async def __call__(self, ctx: ScanContext) -> list[Symbol]:
        message = ctx.message
        auth_output = await ctx.output_of("AUTH")
        outcome = auth_output.details if auth_output and isinstance(auth_output.details, AuthOutcome) else None
        from_addresses = [a.address for a in message.addresses("from") if "@" in a.address][:MAX_ADDRESSES]
        wanted = message_sources(
            client_ip=ctx.facts.client.ip,
            addresses=[ctx.facts.mail_from, *from_addresses],
            authenticated=sorted(outcome.authenticated_domains()) if outcome else (),
            links=message.domains,
            never_block=self.never_block)
        if not wanted:
            return []
        entries = await self.sources.blocked(wanted, self.clock())
        order = {source: i for i, source in enumerate(wanted)}
        hits = sorted((e for e in entries if (e.kind, e.value) in order), key=lambda e: order[(e.kind, e.value)])
        if not hits:
            return []
        detail = "; ".join(f"{e.name} ({e.reporters} reporter{'s' if e.reporters != 1 else ''})" for e in hits)
        # A listed sender, domain or client is refused (a block list blocks); a listed link domain
        # only scores: links are the easiest way to hit an innocent site.
        force = Action.REJECT if any(e.kind != "link" for e in hits) else None
        return [Symbol(SYMBOL.name, SYMBOL.score, detail, force, SYMBOL.description)]
