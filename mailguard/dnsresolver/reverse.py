"""The client's verified host name (forward-confirmed reverse DNS), as Postfix's smtpd finds it.

In front mode mailguard hands the client to Postfix with XCLIENT; Postfix then does not look
the name up itself, so its `reject_unknown_client_hostname` and `check_client_access` rules see
only what we send: the verified name, `[UNAVAILABLE]` (no PTR, or none that points back), or
`[TEMPUNAVAIL]` (a DNS error: Postfix answers 450 rather than 550 to such clients).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailguard.dnsresolver.answer import DnsTempError
from mailguard.dnsresolver.resolver import Resolver

MAX_PTR_NAMES = 5  # a PTR set can be huge; Postfix also only tries a few


@dataclass(frozen=True)
class ClientName:
    name: str | None  # the verified name; None when there is none
    temporary_failure: bool = False  # the lookup failed for now: [TEMPUNAVAIL]


async def verified_client_name(resolver: Resolver, ip: str | None) -> ClientName:
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return ClientName(None)
    try:
        ptr = await resolver.lookup(addr.reverse_pointer, "PTR")
        for name in ptr.records[:MAX_PTR_NAMES]:
            forward = await resolver.lookup(name, "AAAA" if addr.version == 6 else "A")
            if any(ipaddress.ip_address(a) == addr for a in forward.records):
                return ClientName(name.lower())
    except DnsTempError:
        return ClientName(None, temporary_failure=True)
    return ClientName(None)
