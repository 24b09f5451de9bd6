"""xtext (RFC 3461 §4): the encoding of XCLIENT/XFORWARD and DSN ENVID/ORCPT values."""
from __future__ import annotations

import re

_HEX = re.compile(r"\+([0-9A-Fa-f]{2})")


def encode(value: str) -> str:
    out = []
    for byte in value.encode("utf-8", "surrogateescape"):
        if 33 <= byte <= 126 and byte not in (ord("+"), ord("=")):
            out.append(chr(byte))
        else:
            out.append(f"+{byte:02X}")
    return "".join(out)


def decode(value: str) -> str:
    raw = _HEX.sub(lambda m: chr(int(m.group(1), 16)), value)
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")
