"""One list file read into fast lookups: IP addresses and CIDR ranges, domains with their
subdomains, and sender addresses.

Format: one entry per line; '#' starts a comment (whole line or after the entry); blank lines
are ignored. `192.0.2.7`, `198.51.100.0/24`, `2001:db8::/32` are networks; `example.com` (or
`.example.com`, `*.example.com`, `@example.com`) is that domain and every subdomain;
`user@example.com` is one address (compared without case). A line that is none of these is
reported with its line number and skipped: one typo must not drop a list of 10,000 entries. A
mistyped address (`192.0.2.300`) is such a line, not a domain.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mailguard.domains import normalize as normalize_domain

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class LineProblem:
    line: int
    text: str
    message: str


@dataclass(frozen=True)
class ListContents:
    # Networks by prefix length: an address matches when its network at one of these lengths is
    # in the set, a handful of set lookups however long the list.
    networks: dict[tuple[int, int], frozenset[IPNetwork]] = field(default_factory=dict)  # (version, prefix)
    domains: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    problems: tuple[LineProblem, ...] = ()

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.networks.values()) + len(self.domains) + len(self.addresses)

    def match_ip(self, ip: str | None) -> str | None:
        """The entry (as written in canonical form) that covers `ip`, or None."""
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        for (version, prefix), nets in self.networks.items():
            if version != address.version:
                continue
            net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
            if net in nets:
                return str(net)
        return None

    def match_domain(self, domain: str | None) -> str | None:
        """The listed domain that is `domain` or one of its parents, or None."""
        name = normalize_domain(domain or "")
        if not name:
            return None
        labels = name.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.domains:
                return candidate
        return None

    def match_address(self, address: str | None) -> str | None:
        """The listed address equal to `address`, else its listed domain, or None."""
        if not address or "@" not in address:
            return None
        local, _, domain = address.rpartition("@")
        domain = normalize_domain(domain)
        exact = f"{local.lower()}@{domain}"
        if exact in self.addresses:
            return exact
        return self.match_domain(domain)


def _meant_as_ip(entry: str) -> bool:
    """An entry that ipaddress refused but that no domain looks like: a '/' or ':' in it, or an
    all-digit last label (`192.0.2.300`, `10.1.2`; no top-level domain is all digits)."""
    return "/" in entry or ":" in entry or entry.rstrip(".").rpartition(".")[2].isdigit()


def parse(text: str) -> ListContents:
    networks: dict[tuple[int, int], set[IPNetwork]] = {}
    domains: set[str] = set()
    addresses: set[str] = set()
    problems: list[LineProblem] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        entry = raw_line.split("#", 1)[0].strip()
        if not entry:
            continue
        if " " in entry or "\t" in entry:
            entry = entry.split()[0]  # "1.2.3.4  reason text" lists: the first field is the entry
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            net = None
        if net is not None:
            networks.setdefault((net.version, net.prefixlen), set()).add(net)
            continue
        if "@" in entry and not entry.startswith("@"):
            local, _, domain = entry.rpartition("@")
            name = normalize_domain(domain)
            if local and name:
                addresses.add(f"{local.lower()}@{name}")
                continue
            problems.append(LineProblem(number, raw_line.strip(), "not a valid address"))
            continue
        if _meant_as_ip(entry):
            problems.append(LineProblem(number, raw_line.strip(), "not a valid IP address or CIDR range"))
            continue
        name = normalize_domain(entry.lstrip("@").removeprefix("*.").lstrip("."))
        if name and "." in name:
            domains.add(name)
        else:
            problems.append(LineProblem(number, raw_line.strip(),
                                        "not an IP address, CIDR range, domain or address"))
    # Most specific first, so the reported entry is the narrowest one that matched.
    ordered = dict(sorted(((k, frozenset(v)) for k, v in networks.items()), key=lambda kv: -kv[0][1]))
    return ListContents(ordered, frozenset(domains), frozenset(addresses), tuple(problems))
