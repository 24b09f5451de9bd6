"""Client addresses as every front end reads them: one plain form, one network test."""
from __future__ import annotations

import ipaddress


def plain_ip(value: str | None) -> str | None:
    """An IP address without IPv4-mapped IPv6 decoration or scope (other text as given)."""
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return value
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def in_networks(ip: str | None, networks: tuple) -> bool:
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(addr in net for net in networks)
