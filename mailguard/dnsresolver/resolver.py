"""The one DNS resolver of a process: cache, a cap on queries in flight, and a deadline on each.

Every check looks names up here (SPF, DKIM, DMARC, blocklists), so that they share the cache and
the limits. Identical questions asked at the same time go out once. Synchronous libraries running
in worker threads (pyspf, dkimpy's ARC) reach the same resolver through `blocking_lookup`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable

from mailguard.config import DnsSettings
from mailguard.dnsresolver.answer import DnsAnswer, DnsTempError, DnsTimeout, normalize_name
from mailguard.dnsresolver.cache import AnswerCache
from mailguard.dnsresolver.transport import DnspythonTransport, DnsTransport
from mailguard.metrics import NO_METRICS, Recorder

BlockingLookup = Callable[[str, str], DnsAnswer]


class Resolver:
    def __init__(self, transport: DnsTransport, *, timeout: float, max_in_flight: int = 64,
                 cache_size: int = 20000, metrics: Recorder = NO_METRICS):
        self.timeout = timeout
        self.metrics = metrics
        self._transport = transport
        self._cache = AnswerCache(cache_size)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight: dict[tuple[str, str], asyncio.Future[DnsAnswer]] = {}

    @classmethod
    def from_settings(cls, settings: DnsSettings, metrics: Recorder = NO_METRICS) -> Resolver:
        return cls(DnspythonTransport(settings.servers, settings.timeout), timeout=settings.timeout,
                   max_in_flight=settings.max_in_flight, cache_size=settings.cache_size, metrics=metrics)

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        """The answer for NAME/RDTYPE; raises DnsTempError when it cannot be known now."""
        key = (normalize_name(name), rdtype.upper())
        cached = self._cache.get(key)
        if cached is not None:
            self.metrics.dns_cache_hit()
            return cached
        shared = self._in_flight.get(key)
        if shared is None:
            shared = asyncio.ensure_future(self._fetch(key))
            self._in_flight[key] = shared
            shared.add_done_callback(lambda fut: self._finished(key, fut))
        # shield: one waiter giving up (its check ran out of budget) must not cancel the others'.
        return await asyncio.shield(shared)

    def _finished(self, key: tuple[str, str], fut: asyncio.Future[DnsAnswer]) -> None:
        self._in_flight.pop(key, None)
        if not fut.cancelled() and fut.exception() is None:
            self._cache.put(key, fut.result())

    async def _fetch(self, key: tuple[str, str]) -> DnsAnswer:
        name, rdtype = key
        try:
            # The deadline covers the wait for a free slot too: a flood of lookups degrades to
            # TEMPERROR instead of queueing past a check's budget.
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    self.metrics.dns_query()
                    return await self._transport.query(name, rdtype)
        except TimeoutError as exc:
            self.metrics.dns_timeout()
            raise DnsTimeout(f"{name}/{rdtype}: no answer within {self.timeout:g}s") from exc
        except DnsTimeout:
            self.metrics.dns_timeout()
            raise

    def blocking_lookup(self, loop: asyncio.AbstractEventLoop, deadline: float) -> BlockingLookup:
        """A lookup function for worker threads; gives up at `deadline` (time.monotonic())."""

        def lookup(name: str, rdtype: str) -> DnsAnswer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DnsTempError(f"{name}/{rdtype}: the check's time is up")
            future = asyncio.run_coroutine_threadsafe(self.lookup(name, rdtype), loop)
            try:
                return future.result(timeout=remaining)
            except concurrent.futures.TimeoutError as exc:
                future.cancel()
                raise DnsTempError(f"{name}/{rdtype}: the check's time is up") from exc
            except concurrent.futures.CancelledError as exc:
                raise DnsTempError(f"{name}/{rdtype}: cancelled") from exc

        return lookup
