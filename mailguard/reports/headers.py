"""One header field of mail mailguard writes itself, around a bug of the stdlib's folder.

Python's header folder (policy.default and its kin, at least to 3.12) can drop the space between
two words when it splits a long non-ASCII value into RFC 2047 encoded words: the space becomes
folding whitespace between encoded words, which a reader ignores (RFC 2047 §6.2), and
"báo cáo thư" reads back as "báo cáothư". `email.header.Header` encodes such a value correctly;
its folded text is stored as the raw field (Message.set_raw), which the policy writes as it is
since no line of it is too long.
"""
from __future__ import annotations

from email.header import Header
from email.message import Message


def set_text(msg: Message, name: str, value: str) -> None:
    """Set the unstructured field `name` (a Subject) to `value`, RFC 2047-encoded when needed;
    line breaks and runs of white space become one space (no field can be smuggled in)."""
    value = " ".join(value.split())
    del msg[name]
    if value.isascii():
        msg[name] = value
    else:
        msg.set_raw(name, Header(value, "utf-8", header_name=name).encode(linesep="\n"))
