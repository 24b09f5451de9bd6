"""Named tests for `kind = "eval"` rules: what a regex cannot say (comparing two parts of a
message). Each takes the message and returns what matched (the symbol's detail), or None."""
from __future__ import annotations

from collections.abc import Callable

import re2

from mailguard import domains
from mailguard.scan.message import ParsedMessage

# RE2 here too: anchor texts and display names are the sender's.
_HOST_IN_TEXT = re2.compile(r"(?i)^(?:https?://)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,10}[a-z]{2,24})(?:[/:?#]\S*)?$")
_ADDRESS = re2.compile(r"[A-Za-z0-9._%+-]{1,64}@((?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,24})")
_MAX_ANCHOR = 200


def link_text_domain_mismatch(msg: ParsedMessage) -> str | None:
    """An HTML link whose text is a web address of one domain and whose target is another: the
    reader trusts what is shown, the click goes elsewhere (a phishing classic)."""
    for link in msg.links:
        text = link.anchor_text.strip()
        if link.found_by == "text" or not text or len(text) > _MAX_ANCHOR or " " in text:
            continue
        m = _HOST_IN_TEXT.match(text)
        if m is None or "." not in m.group(1):
            continue
        shown = domains.organizational(m.group(1))
        target = link.domain or link.host
        if domains.registered(m.group(1).lower()) and shown != domains.organizational(target):
            return f"text {text[:80]!r} links to {link.host}"
    return None


def from_name_other_address(msg: ParsedMessage) -> str | None:
    """The From display name holds an address of another domain than the From address itself
    ("service@paypal.com" <x@evil.example>): mail clients often show only the name."""
    for name, address in ((a.name, a.address) for a in msg.addresses("from")):
        m = _ADDRESS.search(name or "")
        if m is None or "@" not in address:
            continue
        if domains.organizational(m.group(1)) != domains.organizational(address.rpartition("@")[2]):
            return f"name {name[:80]!r}, address {address[:80]}"
    return None


EVALS: dict[str, Callable[[ParsedMessage], str | None]] = {
    "link_text_domain_mismatch": link_text_domain_mismatch,
    "from_name_other_address": from_name_other_address,
}
