"""The client of a reported original, from its Received chain: the first hop outside the
reporter's provider.

The chain is read from the top (the newest header, written by the reporter's own provider)
down. Each header's `from` clause names the machine that connected; the address taken is the one
the receiving server recorded itself — inside the parentheses (`from HELO (rdns [IP])`, Postfix
and Sendmail; `from rdns ([IP] helo=x)`, Exim; `from host (IP)`, Exchange; `(HELO x) (IP)`,
qmail) — before a bracketed address outside them, which may be the client's own HELO
(`from [192.0.2.1] (unknown [203.0.113.9])`).

A hop is the provider's own, and skipped, when its address is in the trusted networks, is never
an Internet client (loopback, RFC 1918, link-local, ...: `dnsbl.targets.lookupable_ip`), or its
verified name (the one in the parentheses) is in the local domains. The first hop that is none
of these is the client. A header whose `by` host is outside the local domains does not end the
walk (the original may have reached the provider through a relay it trusts); a HELO name is
never believed, nor is a header below the provider's edge claiming a local `by` host: both are
the sender's to write, and believing them would let a spammer put an innocent address in the
report. Headers with no address in their `from` clause (`by host with LMTP`) are skipped.

Linear: at most MAX_RECEIVED headers, each cut to MAX_RECEIVED_CHARS and scanned once.
"""
from __future__ import annotations

import ipaddress

from mailguard import domains
from mailguard.dnsbl.targets import lookupable_ip
from mailguard.ipaddrs import in_networks, plain_ip

MAX_RECEIVED = 50  # Received headers read from the top
MAX_RECEIVED_CHARS = 2_048  # characters of one header read

_TOKEN_ENDS = " \t\r\n()[];,"


def _is_local(host: str, local_domains: tuple[str, ...]) -> bool:
    return bool(domains.covering(host, local_domains))


def _ip(text: str) -> str | None:
    text = text.strip()
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    if not text or len(text) > 45 or not (text[0].isdigit() or ":" in text[:5]):
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return None
    return plain_ip(text)


def _from_clause(value: str) -> str:
    """The `from` clause of one header value (up to ` by `); "" when it has none."""
    text = " ".join(value[:MAX_RECEIVED_CHARS].split())
    if text[:5].lower() != "from ":
        return ""
    by_at = text.lower().find(" by ")
    return text[5:by_at] if by_at >= 0 else text[5:]


def _networks(trusted_networks: tuple) -> tuple:
    out = []
    for net in trusted_networks:
        if isinstance(net, str):
            try:
                net = ipaddress.ip_network(net, strict=False)
            except ValueError:
                continue
        if hasattr(net, "version"):
            out.append(net)
    return tuple(out)


def hop_of(value: str) -> tuple[str | None, str]:
    """(the connecting address, its verified name or "") of one Received header value
    (decoded, folding and all)."""
    head = _from_clause(value)
    if not head:
        return None, ""
    # One pass over the clause: tokens with their parenthesis depth and whether bracketed.
    tokens: list[tuple[str, int, bool]] = []
    depth = 0
    i, n = 0, len(head)
    while i < n:
        ch = head[i]
        if ch == "(":
            depth += 1
            i += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            i += 1
        elif ch == "[":
            end = head.find("]", i + 1)
            end = n if end < 0 else end
            tokens.append((head[i + 1:end], depth, True))
            i = end + 1
        elif ch in _TOKEN_ENDS:
            i += 1
        else:
            j = i
            while j < n and head[j] not in _TOKEN_ENDS:
                j += 1
            tokens.append((head[i:j], depth, False))
            i = j
    best: tuple[int, int] | None = None  # (rank, token index); lower rank wins
    for index, (token, tdepth, bracketed) in enumerate(tokens):
        if token.lower().startswith("helo="):
            continue
        if _ip(token) is None:
            continue
        rank = 0 if tdepth and bracketed else 1 if tdepth else 2 if bracketed else 3
        if best is None or rank < best[0]:
            best = (rank, index)
    if best is None:
        return None, ""
    rank, index = best
    address = _ip(tokens[index][0])
    name = ""
    if rank <= 1 and index > 0:  # the name the receiver recorded beside it, in the same parentheses
        before, bdepth, bbracketed = tokens[index - 1]
        if bdepth == tokens[index][1] and not bbracketed and "." in before and before.lower() != "unknown" \
                and not before.lower().startswith("helo"):
            name = before.lower().rstrip(".")
    return address, name


def first_outside_hop(received: list[str] | tuple[str, ...], trusted_networks: tuple,
                      local_domains: tuple[str, ...]) -> str | None:
    """The first address in the Received chain (newest first) outside the reporter's provider,
    as the module says; None when every hop is the provider's own or none is recorded."""
    local = tuple(d.strip().rstrip(".").lower() for d in local_domains if isinstance(d, str) and d.strip())
    trusted = _networks(trusted_networks)
    for value in list(received)[:MAX_RECEIVED]:
        if not isinstance(value, str):
            continue
        address, name = hop_of(value)
        if address is None:
            continue
        if in_networks(address, trusted):
            continue
        if lookupable_ip(address) is None:
            continue
        if name and _is_local(name, local):
            continue
        return address
    return None
