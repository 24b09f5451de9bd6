"""How a source (store/sources.py) is written as a key: the one normalisation for whoever counts,
checks or removes one, so `blocklist remove ip:2001:DB8::1` finds what the intake counted.

- ip: the address in its canonical form (`2001:db8::1`, `192.0.2.7`);
- domain, link: the organizational domain (mailguard.domains.organizational: `news.spam.example`
  and `spam.example` are one source);
- address: the mailbox key of advertising/identity.py (`Bob@Example.VN` → `bob@example.vn`).
"""
from __future__ import annotations

import ipaddress

from mailguard import domains
from mailguard.advertising.identity import recipient_key
from mailguard.ipaddrs import plain_ip
from mailguard.store.sources import SOURCE_KINDS, SourceKind


def source_key(kind: str, value: str) -> str:
    """The key of `value` as a source of `kind`; "" when it is not one (or kind is unknown)."""
    value = value.strip()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(plain_ip(value.strip("[]")) or ""))
        except ValueError:
            return ""
    if kind in ("domain", "link"):
        return domains.organizational(value)
    if kind == "address":
        return recipient_key(value)
    return ""


def parse_entry(text: str) -> tuple[SourceKind, str]:
    """`kind:value` as the CLI names a block entry (`ip:192.0.2.7`, `domain:spam.example`) →
    (kind, key); ValueError saying what is wrong."""
    kind, sep, value = text.partition(":")
    if not sep or kind not in SOURCE_KINDS:
        raise ValueError(f"{text!r}: expected KIND:VALUE with KIND one of {', '.join(SOURCE_KINDS)} "
                         f"(e.g. ip:192.0.2.7)")
    key = source_key(kind, value)
    if not key:
        raise ValueError(f"{text!r}: {value!r} is not a valid {kind}")
    return kind, key  # type: ignore[return-value]
