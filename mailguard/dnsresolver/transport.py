"""Where answers come from: real DNS servers through dnspython's async resolver.

A transport asks one question and turns dnspython's outcome into a DnsAnswer or DnsTempError.
Tests may hand the Resolver another transport (the RFC 7208 suite feeds its zone data this way);
everything above the transport — cache, limits, deadlines, the thread bridge — is the same code.
"""
from __future__ import annotations

from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailguard.config import parse_host_port
from mailguard.dnsresolver.answer import DnsAnswer, DnsTempError, DnsTimeout, Status

NEGATIVE_TTL_DEFAULT = 60  # when the server sends no SOA to take the negative TTL from


class DnsTransport(Protocol):
    async def query(self, name: str, rdtype: str) -> DnsAnswer: ...


def _record_value(rdtype: str, rdata) -> object:
    if rdtype in ("A", "AAAA"):
        return rdata.address
    if rdtype == "TXT":
        return tuple(rdata.strings)
    if rdtype == "MX":
        return (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
    if rdtype in ("PTR", "CNAME"):
        return rdata.target.to_text(omit_final_dot=True)
    return rdata.to_text()


def _negative_ttl(response) -> int:
    for rrset in getattr(response, "authority", ()):
        if rrset.rdtype == dns.rdatatype.SOA:
            return min(rrset.ttl, rrset[0].minimum)
    return NEGATIVE_TTL_DEFAULT


class DnspythonTransport:
    """Queries the configured servers (`host`, `host:port`, `[v6]:port`), or resolv.conf's."""

    def __init__(self, servers: tuple[str, ...], timeout: float):
        if servers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(hp.host, hp.port)
                                    for hp in (parse_host_port(s, 53) for s in servers)]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.timeout = timeout  # per attempt at one server
        resolver.lifetime = timeout  # the whole question, retries and servers included
        resolver.cache = None  # the Resolver above us caches, for every transport alike
        self._resolver = resolver
        self.timeout = timeout

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            answer = await self._resolver.resolve(name + ".", rdtype, search=False,
                                                  raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            responses = list(exc.responses().values())
            ttl = _negative_ttl(responses[0]) if responses else NEGATIVE_TTL_DEFAULT
            return DnsAnswer(name, rdtype, Status.NXDOMAIN, ttl=ttl)
        except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong,
                dns.name.IDNAException, dns.name.BadEscape):
            return DnsAnswer(name, rdtype, Status.NXDOMAIN)  # a name that cannot exist; not cached
        except dns.resolver.YXDOMAIN as exc:
            raise DnsTempError(f"{name}/{rdtype}: YXDOMAIN") from exc
        except dns.resolver.NoNameservers as exc:  # every server answered SERVFAIL/REFUSED/...
            raise DnsTempError(f"{name}/{rdtype}: no server could answer (SERVFAIL)") from exc
        except dns.exception.Timeout as exc:
            raise DnsTimeout(f"{name}/{rdtype}: timed out after {self.timeout:g}s") from exc
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsTempError(f"{name}/{rdtype}: {type(exc).__name__}: {exc}") from exc
        if answer.rrset is None:
            return DnsAnswer(name, rdtype, Status.NODATA, ttl=_negative_ttl(answer.response))
        records = tuple(_record_value(rdtype, r) for r in answer.rrset)
        return DnsAnswer(name, rdtype, Status.OK, records, ttl=answer.rrset.ttl)
