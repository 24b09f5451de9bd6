"""SPF (RFC 7208) with pyspf, run in a worker thread, looking names up through our resolver.

pyspf is synchronous and, left alone, asks a module-level dnspython resolver. `_Query` replaces
the one method through which pyspf reaches DNS (`query.dns`) so that every lookup goes to the
shared async resolver — its configured servers, cache, in-flight cap and deadlines — through
`Resolver.blocking_lookup`, without touching process-wide state. pyspf keeps the rest: mechanism
evaluation, macros, the 10-lookup and void-lookup limits, explanations.

The recursive server follows CNAME chains, so the answers `dns` sees are already final.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass

import spf

from mailguard.auth.dkim_keys import in_thread
from mailguard.auth.results import SpfResult
from mailguard.dnsresolver import BlockingLookup, DnsTempError, Resolver

log = logging.getLogger("mailguard.auth.spf")

# A HELO name SPF can be evaluated for: a dotted host name (not an address literal, RFC 7208 §2.3).
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}\.?$")


class _Query(spf.query):
    """pyspf's query with DNS through `lookup`; remembers the top-level record it evaluated."""

    def __init__(self, lookup: BlockingLookup, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lookup = lookup
        self.top_record: str | None = None
        self._asked_top = False

    def dns_spf(self, domain):
        record = super().dns_spf(domain)
        if not self._asked_top:  # the first call is the top-level one; include/redirect follow
            self._asked_top = True
            self.top_record = record
        return record

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        if not name:
            raise spf.PermError("empty domain name")
        name = str(name).rstrip(".")
        if not all(0 < len(label) < 64 for label in name.split(".")):
            return []  # a name that cannot exist (RFC 7208 §4.3), as pyspf does
        key = (name.lower(), qtype)
        cached = self.cache.get(key)
        if cached is None:
            try:
                answer = self._lookup(name, "TXT" if qtype == "SPF" else qtype)
            except DnsTempError as exc:
                raise spf.TempError(f"DNS {exc}") from exc
            cached = self.cache[key] = list(answer.records)
        result = list(cached)
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


@dataclass(frozen=True)
class SpfChecker:
    resolver: Resolver
    executor: Executor
    receiver: str = "unknown"  # %{r} in explanations: our authserv-id

    async def check(self, client_ip: str, mail_from: str, helo: str, deadline: float) -> SpfResult:
        """The SPF result for MAIL FROM (or postmaster@HELO when the sender is null), by
        `deadline` (time.monotonic()); never raises."""
        identity = "mailfrom" if mail_from else "helo"
        sender = mail_from or (f"postmaster@{helo}" if helo else "")
        domain = sender.rpartition("@")[2] if "@" in sender else (helo if not mail_from else "")
        base = SpfResult("none", identity, domain, sender, client_ip)
        if identity == "helo" and not _HOSTNAME.match(helo or ""):
            return _replace(base, explanation="the HELO name is not a host name")
        lookup = self.resolver.blocking_lookup(asyncio.get_running_loop(), deadline)
        try:
            return await in_thread(self.executor, deadline, _evaluate, lookup, base, helo, self.receiver)
        except TimeoutError:
            return _replace(base, result="temperror", explanation="time ran out")
        except Exception as exc:  # a bug of ours must not cost the message its other checks
            log.exception("SPF check failed")
            return _replace(base, result="permerror", explanation=f"internal error: {type(exc).__name__}")


def _replace(base: SpfResult, **changes) -> SpfResult:
    return SpfResult(**{**base.__dict__, **changes})


def _evaluate(lookup: BlockingLookup, base: SpfResult, helo: str, receiver: str) -> SpfResult:
    try:
        query = _Query(lookup, i=base.client_ip, s=base.sender if base.identity == "mailfrom" else "",
                       h=helo, receiver=receiver, strict=True)
    except Exception as exc:  # e.g. an unparsable client address
        return _replace(base, result="permerror", explanation=f"cannot evaluate: {exc}")
    started = time.monotonic()
    result, _code, explanation = query.check()
    log.debug("SPF %s for %s from %s in %.1f ms", result, base.sender, base.client_ip,
              (time.monotonic() - started) * 1000)
    return _replace(base, result=result, domain=query.d or base.domain, record=query.top_record or "",
                    explanation=str(explanation))
