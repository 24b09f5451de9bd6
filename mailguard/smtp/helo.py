"""The client's HELO/EHLO name, as Postfix keeps it: printable, whatever the client sent.

Postfix accepts any HELO argument (its helo restrictions judge it later): several words are
joined by one space and bytes that are not printable become '?'. We do the same once, on
receipt, so the name is safe everywhere it goes (our Received and Authentication-Results
headers, SPF's HELO identity, the downstream's EHLO and XCLIENT).
"""
from __future__ import annotations

import re

# Postfix refuses an XCLIENT/XFORWARD HELO= longer than a host name may be (RFC 1035).
MAX_ATTRIBUTE_NAME = 255
_NOT_PRINTABLE = re.compile(r"[^\x21-\x7e ]")
_SPACES = re.compile(r"[ \t]+")


def printable(name: str) -> str:
    """The name with runs of blanks as one space and every other non-printable character
    (control bytes, non-ASCII, undecodable bytes) as '?'."""
    return _NOT_PRINTABLE.sub("?", _SPACES.sub(" ", name).strip(" "))


def for_downstream(helo: str | None) -> str | None:
    """The name as an XCLIENT/XFORWARD attribute value, or None ([UNAVAILABLE]) when too long."""
    if not helo or len(helo) > MAX_ATTRIBUTE_NAME:
        return None
    return helo
