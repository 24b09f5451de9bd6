"""Address header fields (From, To, ...) parsed safely: the one place that parses them.

`email.utils.getaddresses` recurses once per nested comment `(` and per group `:`, so a From of
~490 parentheses raises RecursionError in whatever check calls it. Here a value is given to it
only under caps (length, comment nesting, group colons) and inside a handler that catches
anything; a value it cannot take is read by a linear scan for `local@domain` tokens instead, so
that an address on a list is still found, and the field is marked unparsed (the ParsedMessage
makes that a MIME_BAD_ADDRESS_HEADER problem).
"""
from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass

# The fields parsed with every message (others are parsed when a check asks for them).
ADDRESS_HEADERS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc", "return-path", "errors-to",
                             "resent-from", "resent-sender", "resent-to", "resent-cc"})

MAX_VALUE_CHARS = 16 * 1024  # characters of one field read; the rest is not
MAX_NESTING = 32  # comment nesting given to the stdlib parser (it recurses once per level)
MAX_COLONS = 64  # group openers given to it (it recurses once per group)
MAX_PARSED_CHARS = 32 * 1024  # characters per message given to the stdlib parser (its cost per
#                               character is ~100 times the linear scan's); the rest is scanned
MAX_FIELDS = 100  # fields read per header name; the rest are not
MAX_ADDRESSES = 1_000  # addresses kept per header name; the fields after are not read

# The two halves of an address for the linear scan, read outward from an '@': no spaces,
# brackets, quotes or separators (the local part is matched on the reversed text).
_LOCAL = re.compile(r"""[^\s<>()\[\]\\,;:@"]{1,64}""")
_DOMAIN = re.compile(r"""[^\s<>()\[\]\\,;:@"]{1,253}""")


@dataclass(frozen=True)
class Address:
    name: str  # the display name ("" when none)
    address: str  # as written, "local@domain" ("" when the entry has none)


@dataclass(frozen=True)
class AddressField:
    """The addresses of one header field."""

    addresses: tuple[Address, ...]
    parsed: bool = True  # False: too deep or unparseable; `addresses` come from the linear scan


def _nesting(value: str) -> int:
    depth = deepest = 0
    for ch in value:  # only '(' and ')' matter; a C-speed pre-check keeps most values out of here
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return deepest


def scan_field(value: str, limit: int = MAX_ADDRESSES) -> AddressField:
    """The `local@domain` tokens of a value, by a linear scan (each character is read at most
    twice: by the '@' before it and the one after)."""
    value = value[:MAX_VALUE_CHARS]
    backwards = value[::-1]
    found: list[Address] = []
    at = value.find("@")
    while at >= 0 and len(found) < limit:
        local = _LOCAL.match(backwards, len(value) - at)
        domain = _DOMAIN.match(value, at + 1)
        if local and domain:
            found.append(Address("", local.group(0)[::-1] + "@" + domain.group(0)))
        at = value.find("@", at + 1)
    return AddressField(tuple(found), parsed=False)


def parse_field(value: str, limit: int = MAX_ADDRESSES) -> AddressField:
    """The addresses of one (decoded) header value, at most `limit`. Never raises; linear in the
    value's size."""
    value = value[:MAX_VALUE_CHARS]
    if value.count(":") > MAX_COLONS or (value.count("(") > MAX_NESTING and _nesting(value) > MAX_NESTING):
        return scan_field(value, limit)
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:  # RecursionError on what the caps let through, or any stdlib surprise
        return scan_field(value, limit)
    return AddressField(tuple(Address(str(name), str(addr)) for name, addr in pairs[:limit]))


def parse_fields(headers: Iterable[tuple[str, str]]) -> tuple[tuple[tuple[str, AddressField], ...], list[str]]:
    """((lower-case name, field) of every ADDRESS_HEADERS field in order, what was not parsed):
    the caps applied per header name (so that a To bomb cannot hide the From), From read first
    (the per-message parse budget goes to it first). Each item of the second names a field read
    by the linear scan or left unread."""
    wanted = [(i, name, name.strip().lower(), value) for i, (name, value) in enumerate(headers)]
    wanted = [w for w in wanted if w[2] in ADDRESS_HEADERS]
    wanted.sort(key=lambda w: (w[2] != "from", w[0]))
    fields: list[tuple[int, str, AddressField]] = []
    problems: list[str] = []
    parsed_chars = 0
    left: dict[str, int] = {}  # addresses still to be read, per name
    read: dict[str, int] = {}  # fields read, per name
    cut: set[str] = set()  # names whose caps were hit
    for i, name, key, value in wanted:
        if read.get(key, 0) >= MAX_FIELDS or left.get(key, MAX_ADDRESSES) <= 0:
            if key not in cut:
                problems.append(f"{name[:40]}: over {MAX_FIELDS} fields or {MAX_ADDRESSES} addresses, "
                                f"the rest not read")
                cut.add(key)
            continue
        value = value[:MAX_VALUE_CHARS]
        parsed_chars += len(value)
        budget = left.get(key, MAX_ADDRESSES)
        field = parse_field(value, budget) if parsed_chars <= MAX_PARSED_CHARS else scan_field(value, budget)
        left[key] = budget - len(field.addresses)
        read[key] = read.get(key, 0) + 1
        if not field.parsed:
            problems.append(f"{name[:40]}: unparseable, addresses taken by a linear scan"
                            if parsed_chars <= MAX_PARSED_CHARS else
                            f"{name[:40]}: over {MAX_PARSED_CHARS} characters of address fields, scanned")
        fields.append((i, key, field))
    fields.sort(key=lambda f: f[0])
    return tuple((key, field) for _, key, field in fields), problems
