"""The digest that names a learnt message (the store's `learned` table).

SHA-256, hex, of:  "mailguard-learn-1\n" + "message-id:" V + "\n" + "from:" V + "\n" + "date:" V
+ "\n\n" + the body. V is the decoded header value with whitespace runs collapsed to one space
(empty when absent); the body is every byte after the header block, line endings made LF and
trailing whitespace of each line dropped. What relays add or change on the way (Received,
Return-Path, Delivered-To, X-Spam-*, Authentication-Results, our Subject tag) is outside the
digest, so the same message re-delivered, forwarded by a report or tagged by `rewrite_subject`
is one message; two messages that differ in Message-ID, From, Date or body are two.
"""
from __future__ import annotations

import hashlib
import re

from mailguard.scan.headers import split_header_block
from mailguard.scan.message import ParsedMessage

_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(rb"[ \t\r]+$", re.M)


def message_digest(raw: bytes, message: ParsedMessage | None = None) -> str:
    msg = message if message is not None else ParsedMessage.from_bytes(raw)
    h = hashlib.sha256(b"mailguard-learn-1\n")
    for name in ("message-id", "from", "date"):
        value = _SPACE.sub(" ", msg.header(name) or "").strip()
        h.update(f"{name}:{value}\n".encode("utf-8", "surrogatepass"))
    h.update(b"\n")
    _, body = split_header_block(raw)
    body = body[2:] if body.startswith(b"\r\n") else body[1:]  # after the empty line
    h.update(_TRAILING.sub(b"", body.replace(b"\r\n", b"\n")))
    return h.hexdigest()
