"""The shared resolver against a real DNS server (unbound) and one that never answers."""
from __future__ import annotations

import asyncio
import time

import pytest

from mailguard.config import DnsSettings
from mailguard.dnsresolver import DnsTempError, Resolver, Status
from realdns import txt

RECORDS = [
    "mail.example.com. 300 IN A 192.0.2.10",
    "mail.example.com. 300 IN AAAA 2001:db8::10",
    "example.com. 300 IN MX 10 mail.example.com.",
    txt("example.com.", "v=spf1 mx -all"),
    txt("long.example.com.", "k" * 600),
    "10.2.0.192.in-addr.arpa. 300 IN PTR mail.example.com.",
]


def resolver_for(address: str, timeout: float = 2.0, **kw) -> Resolver:
    return Resolver.from_settings(DnsSettings(servers=(address,), timeout=timeout, **kw))


def test_answers_of_each_type_as_plain_values(start_dns):
    server = start_dns(RECORDS)

    async def go():
        r = resolver_for(server.address)
        a = await r.lookup("MAIL.example.com.", "A")
        aaaa = await r.lookup("mail.example.com", "AAAA")
        mx = await r.lookup("example.com", "MX")
        spf = await r.lookup("example.com", "TXT")
        long = await r.lookup("long.example.com", "TXT")
        ptr = await r.lookup("10.2.0.192.in-addr.arpa", "PTR")
        nx = await r.lookup("nothing.example.com", "A")
        nodata = await r.lookup("mail.example.com", "TXT")
        return a, aaaa, mx, spf, long, ptr, nx, nodata

    a, aaaa, mx, spf, long, ptr, nx, nodata = asyncio.run(go())
    assert a.records == ("192.0.2.10",) and a.name == "mail.example.com"
    assert aaaa.records == ("2001:db8::10",)
    assert mx.records == ((10, "mail.example.com"),)
    assert spf.texts() == [b"v=spf1 mx -all"]
    assert long.texts() == [b"k" * 600] and len(long.records[0]) == 3  # split into strings
    assert ptr.records == ("mail.example.com",)
    assert nx.status is Status.NXDOMAIN and not nx.exists
    assert nodata.status is Status.NODATA and not nodata.exists


def test_answers_are_cached_for_their_ttl(start_dns):
    server = start_dns(RECORDS)

    async def go():
        r = resolver_for(server.address)
        first = await r.lookup("mail.example.com", "A")
        missing = await r.lookup("gone.example.com", "A")
        server.stop()  # the server is gone: only the cache can answer now
        return first, missing, await r.lookup("mail.example.com", "A"), await r.lookup("gone.example.com", "A")

    first, missing, again, missing_again = asyncio.run(go())
    assert again == first
    assert missing_again.status is Status.NXDOMAIN  # negative answers are cached too


def test_a_server_that_never_answers_is_a_temperror_within_the_timeout(silent_dns):
    async def go():
        r = resolver_for(silent_dns.address, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DnsTempError):
            await r.lookup("example.com", "TXT")
        return time.monotonic() - started

    assert asyncio.run(go()) < 2.5  # a few times the 0.5 s timeout


def test_queries_beyond_the_in_flight_limit_wait_then_time_out(silent_dns):
    async def go():
        r = resolver_for(silent_dns.address, timeout=0.5, max_in_flight=2)
        started = time.monotonic()
        results = await asyncio.gather(*(r.lookup(f"n{i}.example.com", "A") for i in range(10)),
                                       return_exceptions=True)
        return results, time.monotonic() - started

    results, elapsed = asyncio.run(go())
    assert all(isinstance(r, DnsTempError) for r in results)
    assert elapsed < 2.5  # the wait for a slot counts toward each query's deadline


def test_a_thread_reaches_the_resolver_through_the_blocking_bridge(start_dns):
    server = start_dns(RECORDS)

    async def go():
        r = resolver_for(server.address)
        lookup = r.blocking_lookup(asyncio.get_running_loop(), time.monotonic() + 5)
        return await asyncio.to_thread(lookup, "mail.example.com", "A")

    assert asyncio.run(go()).records == ("192.0.2.10",)
