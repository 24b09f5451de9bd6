"""The headers mailguard writes, and the byte-exact edits of a message's header block.

The forwarded message is the client's bytes with our headers prepended; the only other
changes are the removal of forged copies of our headers and, for `rewrite_subject`, the
Subject. Everything else (8-bit bytes, long lines, odd MIME) passes untouched.
"""
from __future__ import annotations

import datetime
import email.utils
import re
from collections.abc import Iterable

from mailguard.scan.verdict import Action, Verdict

# Header names we write; a sender's copies are removed before forwarding.
OWN_HEADERS = frozenset({"x-spam-flag", "x-spam-score", "x-spam-status", "x-mailguard-symbols",
                         "x-advertising"})
OWN_PREFIXES = ("x-mailguard-",)

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")


_EMPTY_LINE = re.compile(rb"\n\r?\n")


def header_block_end(raw: bytes, limit: int | None = None) -> int:
    """The length of the header block with its last line end: where the empty line that ends
    it starts, as dkimpy and the email parser find it (a line end followed at once by another,
    LF or CR LF, mixed too). 0 when the message starts with an empty line; `limit` (default: the
    whole message) when none comes before it."""
    end = len(raw) if limit is None else limit
    if raw.startswith((b"\r\n", b"\n")):
        return 0
    m = _EMPTY_LINE.search(raw, 0, end)
    return m.start() + 1 if m else end


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its final line end, the rest: blank line + body)."""
    end = header_block_end(raw)
    return raw[:end], raw[end:]


def header_fields(block: bytes) -> list[bytes]:
    """The fields of a header block, each with its continuation lines and line ends."""
    fields: list[list[bytes]] = []  # lines joined at the end: a 10k-line folded field stays linear
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    return [b"".join(lines) for lines in fields]


def field_name(field: bytes) -> str:
    m = _FIELD_NAME.match(field)
    return m.group(1).decode("ascii").lower() if m else ""


def is_ours(field: bytes, authserv_id: str) -> bool:
    name = field_name(field)
    if name in OWN_HEADERS or name.startswith(OWN_PREFIXES):
        return True
    if name == "authentication-results" and authserv_id:
        value = field.split(b":", 1)[1].decode("utf-8", "replace")
        # RFC 8601 §2.2: the authserv-id is the first token, before an optional version and ';'.
        first = re.split(r"[\s;]", value.strip(), maxsplit=1)[0].lower()
        return first == authserv_id.lower()
    return False


def strip_forged(raw: bytes, authserv_id: str = "") -> bytes:
    """`raw` without sender-supplied copies of our headers (RFC 8601 §5 for A-R)."""
    block, rest = split_header_block(raw)
    fields = header_fields(block)
    kept = [f for f in fields if not is_ours(f, authserv_id)]
    if len(kept) == len(fields):
        return raw
    return b"".join(kept) + rest


def rewrite_subject(raw: bytes, tag: str) -> bytes:
    """Prefix the Subject with `tag` (once); add a Subject holding only the tag if none."""
    block, rest = split_header_block(raw)
    fields = header_fields(block)
    tag_bytes = tag.encode("utf-8")
    for i, f in enumerate(fields):
        if field_name(f) == "subject":
            name, _, value = f.partition(b":")
            if value.lstrip().startswith(tag_bytes):
                return raw
            fields[i] = name + b": " + tag_bytes + b" " + value.lstrip(b" \t")
            return b"".join(fields) + rest
    eol = b"\r\n" if b"\r\n" in block or not block else b"\n"
    return b"Subject: " + tag_bytes + eol + raw


def fold(name: str, items: Iterable[str], separator: str = ",", width: int = 78) -> str:
    """`name: a,b,c`, folded after a separator so that lines stay within `width` where possible."""
    first, *rest = list(items)
    lines: list[str] = []
    line = f"{name}: {first}"
    for item in rest:
        if len(line) + len(separator) + len(item) > width:
            lines.append(line + separator.rstrip())
            line = "\t" + item
        else:
            line += separator + item
    lines.append(line)
    return "\r\n".join(lines)


def verdict_headers(verdict: Verdict) -> list[str]:
    """X-Spam-Flag, X-Spam-Score, X-Spam-Status (SpamAssassin's format), X-Mailguard-Symbols."""
    spam = verdict.is_spam
    tests = sorted(s.name for s in verdict.symbols) or ["none"]
    status_head = f"{'Yes' if spam else 'No'}, score={verdict.score:.1f} required={verdict.required:.1f}"
    status = fold("X-Spam-Status", [f"{status_head} tests={tests[0]}", *tests[1:]], separator=",")
    symbols = sorted(verdict.symbols, key=lambda s: (-abs(s.score), s.name))
    sym_items = [f"{s.name}({s.score:.2f})" for s in symbols] or ["none"]
    return [
        f"X-Spam-Flag: {'YES' if spam else 'NO'}",
        f"X-Spam-Score: {verdict.score:.1f}",
        status,
        fold("X-Mailguard-Symbols", [f"action={verdict.action.value}", *sym_items], separator=", "),
    ]


def received_header(*, helo: str | None, client_name: str | None, client_ip: str | None,
                    by: str, protocol: str, queue_id: str, rcpts: tuple[str, ...],
                    when: float) -> str:
    """A RFC 5321 §4.4 trace header for the hop into mailguard (front mode)."""
    frm = helo or "unknown"
    tcp = f"{client_name or 'unknown'} [{client_ip}]" if client_ip else "unknown"
    for_clause = f"\r\n\tfor <{rcpts[0]}>" if len(rcpts) == 1 else ""
    date = email.utils.format_datetime(datetime.datetime.fromtimestamp(when, datetime.timezone.utc))
    return (f"Received: from {frm} ({tcp})\r\n\tby {by} (mailguard) with {protocol} id {queue_id}"
            f"{for_clause}; {date}")


def safe_field(field: str) -> str:
    """A header field we write, with nothing in it that could end it or start another: every
    control character but the CR LF TAB of our own folding becomes '?', and so does a line end
    not followed by folding white space. The one gate every header we write passes through
    (client values such as the HELO name and local parts end up in them)."""
    lines = field.split("\r\n")
    out = [_CONTROL.sub("?", lines[0])]
    for line in lines[1:]:
        line = _CONTROL.sub("?", line)
        if line[:1] in (" ", "\t") and line.strip():
            out.append(line)
        else:  # not a continuation: kept on the line before, never as a field of its own
            out[-1] += "?" + line
    return "\r\n".join(out)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_block(raw: bytes, headers: list[str]) -> bytes:
    """Our header fields, in the message's own line ends."""
    text = "".join(safe_field(h) + "\r\n" for h in headers)
    first_eol = raw.find(b"\n")
    if first_eol > 0 and raw[first_eol - 1:first_eol] != b"\r":
        text = text.replace("\r\n", "\n")
    return text.encode("utf-8", "surrogateescape")


def added_fields(verdict: Verdict, authserv_id: str, extra_headers: list[str]) -> tuple[str, ...]:
    """The fields we add to a delivered message, in order: `extra_headers` (our Received), the
    checks' (Authentication-Results), then X-Spam-* and X-Mailguard-Symbols."""
    added = list(verdict.headers)
    if authserv_id and not any(h.lower().startswith("authentication-results:") for h in added):
        # Every forwarded message carries our A-R; "none" when no method ran (RFC 8601 §2.2).
        added.append(f"Authentication-Results: {authserv_id}; none")
    return (*extra_headers, *added, *verdict_headers(verdict))


def forwarded_parts(raw: bytes, fields: list[str], *, authserv_id: str, subject_tag: str = "") -> tuple[bytes, memoryview]:
    """The bytes to relay, in two parts that are sent one after the other (the body is not
    copied): `fields` with the message's header block — forged copies of ours removed, the
    Subject tagged when `subject_tag` is given — and the rest of the message, untouched."""
    block, _ = split_header_block(raw)
    edited = strip_forged(block, authserv_id)
    if subject_tag:
        edited = rewrite_subject(edited, subject_tag)
    return header_block(raw, fields) + edited, memoryview(raw)[len(block):]


def forwarded_message(raw: bytes, verdict: Verdict, *, authserv_id: str, subject_tag: str,
                      extra_headers: list[str]) -> bytes:
    """What a proxy relays for `verdict`, in one piece (for tests and tools)."""
    tag = subject_tag if verdict.action is Action.REWRITE_SUBJECT else ""
    head, body = forwarded_parts(raw, list(added_fields(verdict, authserv_id, extra_headers)),
                                 authserv_id=authserv_id, subject_tag=tag)
    return head + body
