"""The DNSBL check in its two stages, each asking all its questions at once within the budget:

- "connect" (from the client's connect on, while it says EHLO): the client address in the
  "ip" zones. A hit in a zone with `reject` forces reject, so the flow refuses every RCPT.
- "data": the rest the message names — the first untrusted Received hop, IP-literal links (in
  the "ip" zones) and the registered domains of links and senders (in the "domain" zones). The
  client address is never asked again here: its answer came with the connect stage, whose
  symbols the flow keeps for every message of the connection.

Symbols: the zone's code symbols (e.g. RBL_ZEN_SBL, DBL_SPAM) for hits; RBL_BLOCKED (score 0,
and a warning in the log) when a list refused the query; RBL_TEMPERROR when a lookup failed or
ran out of time; RBL_ZONE_DOWN when a zone was not asked because it failed repeatedly.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

from mailguard.dnsbl.spec import SYMBOLS, DnsblSettings
from mailguard.dnsbl.targets import domain_query, first_untrusted_hop, ip_query, lookupable_ip
from mailguard.dnsbl.zones import Zone, ZoneHealth
from mailguard.dnsresolver import DnsTempError, Resolver
from mailguard import domains
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Action, Symbol

log = logging.getLogger("mailguard.dnsbl")

_DESCRIPTIONS = {s.name: s.description for s in SYMBOLS}  # of the symbols that are not hits
_WAIT_SHARE = 0.9  # of the budget spent waiting for answers; the rest is for building symbols


@dataclass(frozen=True)
class _Query:
    zone: Zone
    name: str  # the DNS name asked
    about: str  # "ip=192.0.2.1", "domain=example.com", "hop=…", "link-ip=…"
    client: bool = False  # the client address: a hit may refuse the client (zone reject)


@dataclass
class DnsblCheck:
    settings: DnsblSettings
    zones: tuple[Zone, ...]
    resolver: Resolver
    health: ZoneHealth
    trusted: tuple = ()  # networks of our own relays, for the Received hop
    stage: Literal["connect", "data"] = "data"

    @property
    def budget(self) -> float:
        return self.settings.budget_ms / 1000

    @property
    def asks_anything(self) -> bool:
        """Whether this stage has zones to ask (the connect stage needs an "ip" zone)."""
        return bool(self.zones) and (self.stage == "data" or any(z.kind == "ip" for z in self.zones))

    async def __call__(self, ctx: ScanContext) -> list[Symbol]:
        started = time.monotonic()
        queries, resting = self._client_queries(ctx) if self.stage == "connect" else self._message_queries(ctx)
        symbols: dict[str, Symbol] = {}

        def add(name: str, score: float, detail: str, force: Action | None = None) -> None:
            prior = symbols.get(name)
            if prior is None:
                symbols[name] = Symbol(name, score, detail, force, _DESCRIPTIONS.get(name, ""))
            elif detail not in prior.detail.split("; "):
                symbols[name] = Symbol(name, prior.score, f"{prior.detail}; {detail}", prior.force or force,
                                       prior.description)

        for zone in resting:
            add("RBL_ZONE_DOWN", 0.0, f"zone={zone}")
        if queries:
            tasks = {asyncio.ensure_future(self.resolver.lookup(q.name, "A")): q for q in queries}
            done, pending = await asyncio.wait(tasks, timeout=max(self.budget * _WAIT_SHARE
                                                                  - (time.monotonic() - started), 0.001))
            for task in pending:
                task.cancel()
                q = tasks[task]
                self._failed(q.zone.name)
                add("RBL_TEMPERROR", 0.0, f"{q.about} zone={q.zone.name} (no answer in time)")
            for task in done:
                q = tasks[task]
                exc = task.exception()
                if exc is not None:
                    self._failed(q.zone.name)
                    reason = str(exc) if isinstance(exc, DnsTempError) else type(exc).__name__
                    add("RBL_TEMPERROR", 0.0, f"{q.about} zone={q.zone.name} ({reason})")
                    continue
                self.health.answered(q.zone.name)
                answer = task.result()
                if not answer.exists:
                    continue
                found = q.zone.meaning(tuple(str(r) for r in answer.records))
                for symbol, score, code in found.hits:
                    refuses = q.client and q.zone.refuses(symbol)
                    add(symbol, score, f"{q.about} zone={q.zone.name} answer={code}",
                        Action.REJECT if refuses else None)
                for code in found.blocked:
                    log.warning("%s refused our query (answer %s): it will not answer through this "
                                "resolver; see README, \"Blocklists\"", q.zone.name, code)
                    add("RBL_BLOCKED", 0.0, f"zone={q.zone.name} answer={code}")
                for code in found.ignored:
                    log.warning("%s answered %s for %s: outside 127.0.0.0/8, ignored", q.zone.name, code, q.name)
        return list(symbols.values())

    def _failed(self, zone: str) -> None:
        if self.health.failed(zone):
            log.warning("blocklist %s failed %d times in a row: not asked for %gs", zone,
                        self.health.limit, self.health.rest)

    def _client_queries(self, ctx: ScanContext) -> tuple[list[_Query], list[str]]:
        """The connect stage: the client address in every "ip" zone (none for an address of the
        ranges never looked up)."""
        client = lookupable_ip(ctx.facts.client.ip)
        queries: list[_Query] = []
        resting: list[str] = []
        if client is None:
            return queries, resting
        for zone in self.zones:
            if zone.kind != "ip":
                continue
            if self.health.is_down(zone.name):
                resting.append(zone.name)
                continue
            queries.append(_Query(zone, ip_query(client, zone.name), f"ip={client}", client=True))
        return queries, resting

    def _message_queries(self, ctx: ScanContext) -> tuple[list[_Query], list[str]]:
        """The data stage: what the message names, never the client address (asked at connect)."""
        client = lookupable_ip(ctx.facts.client.ip)
        asked = {str(client)} if client is not None else set()  # by the connect stage
        ips: dict[str, str] = {}  # address → what it is
        if self.settings.received_hop:
            hop = lookupable_ip(first_untrusted_hop(ctx.message.headers_named("received"), self.trusted))
            if hop is not None and str(hop) not in asked:
                ips[str(hop)] = "hop"
        wanted_domains: list[str] = []
        wanted = self.settings.max_domains
        if any(z.kind == "domain" for z in self.zones):
            if self.settings.sender_domains:
                for header in ("from", "reply-to"):
                    for address in (a.address for a in ctx.message.addresses(header)):
                        host = domains.of_address(address)
                        domain = domains.registered(host) if host else None
                        if domain and domain not in wanted_domains:
                            wanted_domains.append(domain)
            for domain in ctx.message.domains:
                if len(wanted_domains) >= wanted:
                    break
                if domain not in wanted_domains:
                    wanted_domains.append(domain)
        link_ips = 0
        for link in ctx.message.links:
            if link_ips >= wanted:
                break
            address = lookupable_ip(link.ip)
            if address is not None and str(address) not in ips and str(address) not in asked:
                ips[str(address)] = "link-ip"
                link_ips += 1
        queries: list[_Query] = []
        resting: list[str] = []
        for zone in self.zones:
            if self.health.is_down(zone.name):
                resting.append(zone.name)
                continue
            if zone.kind == "ip":
                for text, what in ips.items():
                    queries.append(_Query(zone, ip_query(lookupable_ip(text), zone.name), f"{what}={text}"))
            else:
                for domain in wanted_domains[:wanted]:
                    name = domain_query(domain, zone.name)
                    if name:
                        queries.append(_Query(zone, name, f"domain={domain}"))
        return queries, resting
