"""Domain names, one way everywhere: the normal form of a name, its registered domain and its
organizational domain (RFC 7489 §3.2), by the Public Suffix List that ships with the
`publicsuffixlist` package (no network at run time, never a home-made list)."""
from __future__ import annotations

import functools
import re

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@functools.lru_cache(maxsize=1)
def public_suffix_list():
    """The one PublicSuffixList instance (slow to build: built on first use, then shared)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def normalize(text: str) -> str:
    """Lower-case ASCII (IDN as punycode), no trailing dot; "" when not a domain name."""
    name = text.strip().rstrip(".").lower()
    if not name:
        return ""
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return ""
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return ""
    return name


def is_fqdn(name: str) -> bool:
    """A fully-qualified host name as mail wants it in greetings and trace headers: a domain
    name of two labels or more, not localhost (nor *.localdomain), no all-digit last label."""
    name = normalize(name)
    return ("." in name and name != "localhost" and not name.endswith((".localhost", ".localdomain"))
            and not name.rpartition(".")[2].isdigit())


@functools.lru_cache(maxsize=4096)
def registered(host: str) -> str | None:
    """The registered domain of an ASCII host (`www.bbc.co.uk` -> `bbc.co.uk`); None for a
    public suffix itself (`co.uk`) or what the list cannot place."""
    try:
        return public_suffix_list().privatesuffix(host)
    except Exception:
        return None


def organizational(domain: str) -> str:
    """The organizational domain of a name as written (any case, IDN, trailing dot): its
    registered domain, or the normal form itself when it has none (a public suffix is its own,
    as RFC 7489 says); "" when it is not a domain name."""
    name = normalize(domain)
    return (registered(name) or name) if name else ""


def of_address(address: str) -> str:
    """The normal form of the domain of `local@domain`; "" without one."""
    return normalize(address.rpartition("@")[2]) if "@" in address else ""


def covering(name: str, parents) -> str:
    """The longest of `parents` that `name` is or lies under (`mail.shop.vn` under `shop.vn`), in
    normal form; "" when none does. Both sides may be written in any form (case, IDN, dot)."""
    name = normalize(name)
    if not name:
        return ""
    found = [p for p in (normalize(p) for p in parents) if p and (name == p or name.endswith("." + p))]
    return max(found, key=len, default="")
