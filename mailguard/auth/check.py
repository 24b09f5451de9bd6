"""The `AUTH` check: SPF, DKIM and ARC at once, then DMARC over their results.

Everything runs within one budget ([auth] budget_ms). Each method gets a deadline a little
inside it, so that a dead DNS server yields `*_TEMPERROR` symbols and a complete
Authentication-Results header rather than a bare CHECK_TIMEOUT_AUTH.
"""
from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field

from mailguard.auth import dmarc as dmarc_mod
from mailguard.auth.arc import verify_arc
from mailguard.auth.dkim import verify_dkim
from mailguard.auth.header import authentication_results
from mailguard.auth.results import ArcResult, AuthOutcome, DkimSignature, DmarcResult, SpfResult
from mailguard.auth.spec import AuthSettings
from mailguard.auth.spf import SpfChecker
from mailguard.auth.symbols import arc_symbols, dkim_symbols, dmarc_symbols, spf_symbols
from mailguard.dnsresolver import Resolver
from mailguard.scan.pipeline import CheckOutput, ScanContext

# Share of the budget the methods may spend waiting; the rest is for DMARC and the header.
_METHODS_SHARE = 0.8


@dataclass
class AuthCheck:
    settings: AuthSettings
    authserv_id: str
    resolver: Resolver
    executor: Executor
    rng: random.Random = field(default_factory=random.Random)  # DMARC pct sampling

    @property
    def budget(self) -> float:
        return self.settings.budget_ms / 1000

    async def __call__(self, ctx: ScanContext) -> CheckOutput:
        started = time.monotonic()
        methods_deadline = started + self.budget * _METHODS_SHARE
        spf, dkim, arc = await asyncio.gather(
            self._spf(ctx, methods_deadline),
            self._bounded(verify_dkim(ctx.raw, self.resolver, self.executor, methods_deadline), methods_deadline,
                          None),
            self._bounded(verify_arc(ctx.raw, self.resolver, self.executor, methods_deadline), methods_deadline,
                          ArcResult("temperror", reason="time ran out")),
        )
        if dkim is None:
            dkim = [DkimSignature("temperror", "", "", "", reason="time ran out")]
        dmarc = await self._bounded(
            dmarc_mod.evaluate(ctx.message.address_fields("from"), spf, dkim, self.resolver, self.rng),
            started + self.budget * 0.95, DmarcResult("temperror", reason="time ran out"))
        symbols = [*spf_symbols(spf), *dkim_symbols(dkim), *dmarc_symbols(dmarc, arc, self.settings),
                   *arc_symbols(arc)]
        header = authentication_results(self.authserv_id, spf, dkim, dmarc, arc)
        return CheckOutput(tuple(symbols), (header,), AuthOutcome(spf, tuple(dkim), dmarc, arc))

    async def _spf(self, ctx: ScanContext, deadline: float) -> SpfResult | None:
        client = ctx.facts.client
        if not client.ip:  # `mailguard scan` without --client-ip: nothing to check SPF against
            return None
        checker = SpfChecker(self.resolver, self.executor)
        mail_from = ctx.facts.mail_from
        helo = client.helo or ""
        return await self._bounded(
            checker.check(client.ip, mail_from, helo, deadline), deadline,
            SpfResult("temperror", "mailfrom" if mail_from else "helo", "", mail_from, client.ip,
                      explanation="time ran out"))

    @staticmethod
    async def _bounded(work, deadline: float, fallback):
        """The work's result, or `fallback` when the deadline passes first."""
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                return await work
        except TimeoutError:
            return fallback
