"""What a blocklist is asked about, and the query names (RFC 5782).

Addresses in the ranges of CONTRACTS.md ("never looked up") are skipped: loopback, RFC 1918,
link-local, shared and unique-local space. Documentation ranges are looked up on purpose (tests
use them as outside clients), although `ipaddress.is_private` calls them private.
"""
from __future__ import annotations

import ipaddress
import re

from mailguard import domains

NEVER_LOOKED_UP = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4",  # not unicast senders at all
    "::1/128", "::/128", "fe80::/10", "fc00::/7", "ff00::/8",
))


def lookupable_ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in net for net in NEVER_LOOKED_UP if net.version == address.version):
        return None
    return address


def ip_query(address: ipaddress.IPv4Address | ipaddress.IPv6Address, zone: str) -> str:
    """192.0.2.99 → 99.2.0.192.<zone>; IPv6 as 32 reversed nibbles (RFC 5782 §2.4)."""
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + "." + zone
    return ".".join(reversed(address.exploded.replace(":", ""))) + "." + zone


def domain_query(domain: str, zone: str) -> str | None:
    name = domains.normalize(domain)
    return f"{name}.{zone}" if name and len(name) + len(zone) < 250 else None


_RECEIVED_FROM_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")


def first_untrusted_hop(received: list[str], trusted: tuple) -> str | None:
    """The address that handed the message to the topmost relay we do not trust: walking the
    Received headers from the top (newest), the first `[address]` outside `trusted`."""
    for value in received:
        head = value.split(" by ", 1)[0]  # the "from" clause names who connected
        for text in _RECEIVED_FROM_IP.findall(head):
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if not any(address in net for net in trusted if net.version == address.version):
                return str(address)
    return None
