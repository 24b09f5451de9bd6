"""The local lists as checks: `LIST_<NAME>` symbols for block and allow lists.

At MAIL (phase "mail"): the client address, its verified host name and the envelope sender —
a block hit with `reject = true` refuses the RCPTs that follow (550 5.7.1). At DATA: the From
addresses and, for lists with `links = true`, the domains of links. An allow entry for an
address or domain counts only when that domain is authenticated — an SPF pass or a valid DKIM
signature of the same registered domain (relaxed alignment) — since anyone can write a sender
address; without the AUTH check (offline, disabled) such entries never count. Allow entries for
IP addresses always count: the TCP peer cannot be forged.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailguard.auth.results import AuthOutcome
from mailguard.lists.registry import LocalList, LocalLists
from mailguard import domains
from mailguard.scan.pipeline import ScanContext
from mailguard.scan.verdict import Action, Symbol


@dataclass
class ListsCheck:
    lists: LocalLists
    phase: str  # "mail" | "data"
    # Policy group → (list name, "allow" | "block"): lists used for that group's mail only. The
    # group is known once recipients are ([[policy.group]]): at DATA.
    per_group: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    async def __call__(self, ctx: ScanContext) -> list[Symbol]:
        active = [lst for lst in self.lists.lists.values() if lst.spec.use != "rules"]
        group: list[LocalList] = []  # this message's policy group's lists, checked whole at DATA
        if self.phase == "data":
            for name, use in self.per_group.get(ctx.facts.policy, ()):
                lst = self.lists.get(name)
                if lst is not None and all(a.name != name for a in active):
                    group.append(LocalList(dataclasses.replace(lst.spec, use=use), lst.contents, lst.stamp))
        if not active and not group:
            return []
        if self.phase == "mail":
            return [s for lst in active for s in self._envelope(lst, ctx)]
        needs_auth = any(lst.spec.use == "allow" for lst in (*active, *group))
        auth_output = await ctx.output_of("AUTH") if needs_auth else None
        outcome = auth_output.details if auth_output and isinstance(auth_output.details, AuthOutcome) else None
        proven = {domains.organizational(d) for d in outcome.authenticated_domains()} - {""} if outcome else set()
        return ([s for lst in active for s in self._content(lst, ctx, proven)]
                + [s for lst in group for s in (*self._envelope(lst, ctx), *self._content(lst, ctx, proven))])

    def _envelope(self, lst: LocalList, ctx: ScanContext) -> list[Symbol]:
        c = lst.contents
        client = ctx.facts.client
        ip_hit = c.match_ip(client.ip)
        if lst.spec.use == "allow":
            return [self._symbol(lst, f"client {client.ip} matches {ip_hit}")] if ip_hit else []
        hits = []
        if ip_hit:
            hits.append(f"client {client.ip} matches {ip_hit}")
        name_hit = c.match_domain(client.name) if client.name else None
        if name_hit:
            hits.append(f"client name {client.name} matches {name_hit}")
        sender_hit = c.match_address(ctx.facts.mail_from)
        if sender_hit:
            hits.append(f"sender {ctx.facts.mail_from} matches {sender_hit}")
        return [self._symbol(lst, "; ".join(hits))] if hits else []

    def _content(self, lst: LocalList, ctx: ScanContext, proven: set[str]) -> list[Symbol]:
        c = lst.contents
        addresses = [a.address for a in ctx.message.addresses("from") if "@" in a.address]
        if lst.spec.use == "allow":
            candidates = [("sender", ctx.facts.mail_from), *(("From", a) for a in addresses)]
            hits = [f"{what} {address} matches {hit} (authenticated)" for what, address in candidates
                    if address and (hit := c.match_address(address))
                    and domains.of_address(address) and domains.organizational(domains.of_address(address)) in proven]
            return [self._symbol(lst, "; ".join(dict.fromkeys(hits)))] if hits else []
        hits = [f"From {a} matches {hit}" for a in addresses if (hit := c.match_address(a))]
        if lst.spec.links:
            hits += [f"link {d} matches {hit}" for d in ctx.message.domains if (hit := c.match_domain(d))]
            hits += [f"link {link.ip} matches {hit}" for link in ctx.message.links
                     if link.ip and (hit := c.match_ip(link.ip))]
        return [self._symbol(lst, "; ".join(dict.fromkeys(hits)))] if hits else []

    @staticmethod
    def _symbol(lst: LocalList, detail: str) -> Symbol:
        declared = lst.spec.symbol
        force = Action.REJECT if lst.spec.use == "block" and lst.spec.reject else None
        return Symbol(declared.name, declared.score, detail, force, declared.description)
