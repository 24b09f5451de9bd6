"""The ParsedMessage: a message's raw bytes parsed once into what every check reads.

`ParsedMessage.from_bytes(raw)` never raises. It gives the decoded top-level headers, a record
for every leaf MIME part (type, charset, file name, disposition, size, decoded text), the visible
text of the message (HTML reduced to what a reader sees), its links with their hosts and
registered domains, and the parse problems found on the way as `MIME_*` codes.

The MIME structure is the stdlib's (`email.feedparser`, policy compat32: the most forgiving, it
never raises on access); header words, transfer encodings and charsets are decoded here with
stdlib primitives so that every fallback is ours and every failure becomes a problem code.

CPU is bounded by design, since nothing can interrupt CPU work on the event loop: every loop
below is capped by one of the module constants (see "Caps"), every regex is linear (no nested
quantifiers that can backtrack, possessive where pieces could overlap), and a cap that is hit
records a problem and stops the work, it never slows it down. Two stdlib weak spots are fenced
off: the feed parser's per-line cost grows with the nesting depth (so depth and lines are
capped while feeding it), and `html.parser` is quadratic on unclosed tags (so HTML goes to it
only after a linear pre-pass that leaves nothing unclosed).

The pieces, one module each beside this one: `caps` (every bound), `problems` (the MIME_*
codes), `charsets`, `encoded_words` (header values, RFC 2047), `mime_parse` (the bounded feed),
`transfer` (base64, quoted-printable), `html_text`, `links`, `addresses`, `text` (normal forms).
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from functools import cached_property

from mailguard.scan.addresses import ADDRESS_HEADERS, Address, AddressField, parse_field, parse_fields
from mailguard.scan.caps import (
    MAX_ATTACHED, MAX_ATTACHED_LEVEL, MAX_DEPTH, MAX_HEADERS, MAX_HEADER_CHARS, MAX_HTML_TAGS,
    MAX_PARAM_HEADER_CHARS, MAX_PARSED_OBJECTS, MAX_PARSE_BYTES, MAX_PARTS, MAX_PART_TEXT,
    MAX_PROBLEM_DETAILS, MAX_TOTAL_HTML_TAGS, MAX_TOTAL_TEXT
)
from mailguard.scan.charsets import guess_decode, decode_bytes
from mailguard.scan.encoded_words import INVISIBLE, cut_mark_runs, decode_header_value
from mailguard.scan.html_text import html_to_text
from mailguard.scan.links import Link, LinkCollector
from mailguard.scan.headers import header_block_end
from mailguard.scan.mime_parse import parse_bounded
from mailguard.scan.problems import (
    MIME_BAD_ADDRESS_HEADER, MIME_BAD_BASE64, MIME_BAD_CHARSET, MIME_CHARSET_MISMATCH, MIME_DEFECT,
    MIME_NUL_BYTES, MIME_PARSE_ERROR, MIME_TOO_DEEP, MIME_TOO_MANY_LINKS, MIME_TOO_MANY_PARTS,
    MIME_TRUNCATED, Problem, DEFECT_CODES
)
from mailguard.scan.transfer import payload_bytes, stored_payload

log = logging.getLogger("mailguard.message")


@dataclass(frozen=True)
class Part:
    """One leaf MIME part."""

    index: int  # position among the leaf parts, from 0, in document order
    content_type: str  # lower-case "type/subtype" (text/plain when missing or invalid)
    charset: str | None  # as declared, lower-case; None when none
    filename: str | None  # decoded (RFC 2231 and RFC 2047); None when none
    disposition: str | None  # "inline", "attachment", ... lower-case; None when none
    size: int  # decoded size in bytes
    text: str  # decoded text of text/* parts ("" otherwise); text/html reduced to visible text
    is_attachment: bool
    html: str = ""  # the HTML source of a text/html part (capped like text)
    depth: int = 0  # nesting depth: 0 for a top-level body
    # A text/plain part as decoded, before invisible characters were dropped (rawbody rules look
    # for them); "" when it equals `text`.
    raw_text: str = ""

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def is_text(self) -> bool:
        return self.maintype == "text"


@dataclass(frozen=True)
class ParsedMessage:
    headers: tuple[tuple[str, str], ...]  # top-level (name, decoded value), in order
    parts: tuple[Part, ...]  # leaf parts, in document order
    links: tuple[Link, ...]
    problems: tuple[Problem, ...]
    text: str  # visible text of the inline (non-attachment) text parts, joined
    html: str  # HTML source of the inline text/html parts, joined
    raw_size: int = 0
    truncated: bool = False  # a cap stopped the parse or the text: not everything was seen
    # (lower-case name, its addresses) of every ADDRESS_HEADERS field, in order: parsed once,
    # here, since the stdlib's address parser raises on hostile values (scan/addresses.py).
    address_headers: tuple[tuple[str, AddressField], ...] = ()
    # Attached messages (message/rfc822 parts; text/rfc822-headers parts as headers only), each
    # parsed on its own: its headers, parts and links. Their parts are also in `parts` above.
    attached: tuple["ParsedMessage", ...] = ()
    # What `source` is made from, for an attached message only: its parse tree and the line end
    # of the message it came in (message/rfc822), or its header block (text/rfc822-headers).
    _source: tuple[Message, str] | bytes | None = field(default=None, repr=False, compare=False)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, raw: bytes) -> ParsedMessage:
        """Parse `raw` best effort. Never raises (a failure is a MIME_PARSE_ERROR problem)."""
        try:
            if isinstance(raw, str):
                raw = raw.encode("utf-8", "surrogateescape")
            elif not isinstance(raw, bytes):
                raw = bytes(raw) if isinstance(raw, (bytearray, memoryview)) else b""
        except Exception:
            raw = b""
        try:
            return _build(raw)
        except Exception as exc:  # a bug or a stdlib surprise: fall back, never raise
            log.warning("message parse failed (%s); reading it best-effort", type(exc).__name__)
            try:
                return _fallback(raw, exc)
            except Exception:
                return cls((), (), (), (Problem(MIME_PARSE_ERROR, type(exc).__name__),), "", "",
                           len(raw) if isinstance(raw, bytes) else 0, True)

    @cached_property
    def source(self) -> bytes:
        """An attached message's bytes as it was attached: regenerated from its parse tree
        (the same bytes for a well-formed message), or a text/rfc822-headers part's header
        block. b"" for the top-level message (its caller holds the raw bytes) and for what
        cannot be regenerated. Made on first use: only the report intake asks for it."""
        if isinstance(self._source, bytes):
            return self._source
        if self._source is None:
            return b""
        tree, linesep = self._source
        try:
            out = io.BytesIO()
            BytesGenerator(out, mangle_from_=False, maxheaderlen=0,
                           policy=compat32.clone(linesep=linesep)).flatten(tree)
            return out.getvalue()
        except Exception:  # a tree the generator cannot write back (too deep, odd payloads)
            return b""

    # -- headers ----------------------------------------------------------------------------
    @cached_property
    def _header_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.headers:
            index.setdefault(name.lower(), []).append(value)
        return index

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), decoded; None when absent."""
        values = self._header_index.get(name.lower())
        return values[0] if values else None

    def headers_named(self, name: str) -> list[str]:
        """Every header of that name (case-insensitive), decoded, in order."""
        return list(self._header_index.get(name.lower(), ()))

    def address_fields(self, name: str) -> tuple[AddressField, ...]:
        """The addresses of every header field of that name (case-insensitive), one entry per
        field, in order. Never raises, whatever the sender wrote."""
        key = name.lower()
        if key in ADDRESS_HEADERS:
            return tuple(f for n, f in self.address_headers if n == key)
        return self._other_address_fields(key)

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Every address of the header fields of that name, in order ("" addresses included:
        entries without one; callers keep those with an '@')."""
        return tuple(a for f in self.address_fields(name) for a in f.addresses)

    def _other_address_fields(self, key: str) -> tuple[AddressField, ...]:
        """Fields outside ADDRESS_HEADERS (a rule may name any header): parsed on first use."""
        cache = self._address_cache
        if key not in cache:
            cache[key] = tuple(parse_field(v) for v in self.headers_named(key)[:MAX_HEADERS])
        return cache[key]

    @cached_property
    def _address_cache(self) -> dict[str, tuple[AddressField, ...]]:
        return {}

    @property
    def subject(self) -> str | None:
        return self.header("subject")

    @property
    def from_header(self) -> str | None:
        return self.header("from")

    @property
    def message_id(self) -> str | None:
        return self.header("message-id")

    # -- parts and links --------------------------------------------------------------------
    @cached_property
    def attachments(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.is_attachment)

    @cached_property
    def attachment_names(self) -> tuple[str, ...]:
        return tuple(p.filename for p in self.attachments if p.filename)

    @cached_property
    def domains(self) -> tuple[str, ...]:
        """Registered domains of the links, unique, in order of first appearance."""
        return tuple(dict.fromkeys(link.domain for link in self.links if link.domain))

    @cached_property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(link.host for link in self.links))

    @cached_property
    def problem_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.problems)

    def problem_symbols(self) -> list[tuple[str, str]]:
        """(name, detail) once per problem code, in order of first appearance; the details of
        repeated problems are merged (at most MAX_PROBLEM_DETAILS, then "+N more")."""
        return list(self._problem_symbols)

    @cached_property
    def _problem_symbols(self) -> tuple[tuple[str, str], ...]:
        details: dict[str, dict[str, None]] = {}
        for p in self.problems:
            items = details.setdefault(p.code, {})
            if p.detail:
                items[p.detail] = None
        out = []
        for code, items in details.items():
            unique = list(items)
            detail = "; ".join(unique[:MAX_PROBLEM_DETAILS])
            if len(unique) > MAX_PROBLEM_DETAILS:
                detail += f"; +{len(unique) - MAX_PROBLEM_DETAILS} more"
            out.append((code, detail))
        return tuple(out)


# message/* types whose body is a list of header-like field blocks, read as one text leaf
# (RFC 3464 delivery status, RFC 5965 feedback report), not as an attached message.
FIELD_BLOCK_TYPES = frozenset({"message/delivery-status", "message/feedback-report"})


def _leaves(root: Message, problems: list[Problem]) -> list[tuple[Message, int]]:
    """Leaf parts in document order with their depth, at most MAX_PARTS (iterative walk)."""
    leaves: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        msg, depth = stack.pop()
        payload = stored_payload(msg)
        if isinstance(payload, list) and msg.get_content_type() not in FIELD_BLOCK_TYPES:
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
            continue
        if len(leaves) >= MAX_PARTS:
            problems.append(Problem(MIME_TOO_MANY_PARTS, f"over {MAX_PARTS} parts"))
            break
        leaves.append((msg, depth))
    return leaves


def _defect_problems(msg: Message, where: str, truncated: bool) -> list[Problem]:
    out = []
    for defect in getattr(msg, "defects", ()) or ():
        name = type(defect).__name__
        if truncated and name in ("CloseBoundaryNotFoundDefect", "StartBoundaryNotFoundDefect"):
            continue  # our own stop left the multipart open
        out.append(Problem(DEFECT_CODES.get(name, MIME_DEFECT), f"{where}: {name}"))
    return out


def _walk_defects(root: Message, problems: list[Problem], truncated: bool) -> None:
    stack: list[tuple[Message, str]] = [(root, "message")]
    seen = 0
    while stack and seen <= MAX_PARSED_OBJECTS + 1:
        msg, where = stack.pop()
        seen += 1
        problems.extend(_defect_problems(msg, where, truncated))
        payload = stored_payload(msg)
        if isinstance(payload, list):
            stack.extend((p, f"{where}.{i}") for i, p in enumerate(payload) if isinstance(p, Message))


def _param(msg: Message, name: str, header: str, problems: list[Problem], where: str) -> str | None:
    """A Content-Type / -Disposition parameter as text; an RFC 2231 value (charset'lang'text)
    is decoded with decode_bytes, so that its charset gets the same checks as a part's."""
    value = _safe(lambda: msg.get_param(name, None, header))
    if isinstance(value, tuple) and len(value) == 3:
        text = value[2] if isinstance(value[2], str) else ""
        decoded, code = decode_bytes(text.encode("latin-1", "replace"), value[0] or None)
        if code in (MIME_BAD_CHARSET, MIME_CHARSET_MISMATCH):
            problems.append(Problem(code, f"{where}: {str(value[0])[:40]}"))
        return decoded
    return value if isinstance(value, str) else None


def _safe(fn, default=None):
    try:
        return fn()
    except Exception:
        return default


class _Budget:
    """What is left of the per-message caps."""

    def __init__(self) -> None:
        self.text = MAX_TOTAL_TEXT
        self.tags = MAX_TOTAL_HTML_TAGS


def _part_record(msg: Message, index: int, depth: int, budget: _Budget,
                 problems: list[Problem], cut_short: bool = False) -> tuple[Part, list[tuple[str, str]]]:
    """One leaf part turned into its record; also returns its HTML anchors."""
    ctype = _safe(msg.get_content_type, "text/plain") or "text/plain"
    ctype = ctype[:100].lower()
    charset = _param(msg, "charset", "content-type", problems, f"part {index} charset")
    charset = charset[:64].strip().strip("\"'").lower() or None if charset else None
    disposition = _safe(msg.get_content_disposition)
    disposition = disposition.strip()[:40] if isinstance(disposition, str) and disposition.strip() else None
    where = f"part {index} filename"
    filename = (_param(msg, "filename", "content-disposition", problems, where)
                or _param(msg, "name", "content-type", problems, where))
    if filename:
        filename = decode_header_value(filename.strip(), problems, where)[:1000] or None
    maintype = ctype.partition("/")[0]
    textual = maintype in ("text", "multipart") or ctype in FIELD_BLOCK_TYPES
    data, size, decode_problems = payload_bytes(msg, want_bytes=textual)
    for p in decode_problems:
        if not (cut_short and p.code == MIME_BAD_BASE64):  # our stop cut it, not the sender
            problems.append(Problem(p.code, f"part {index}: {p.detail}"))
    if maintype == "text":
        is_attachment = disposition == "attachment" or (filename is not None and disposition != "inline")
    else:
        is_attachment = not textual
    text = html = raw_text = ""
    anchors: list[tuple[str, str]] = []
    if textual:
        limit = min(MAX_PART_TEXT, max(0, budget.text))
        cut = len(data) > limit
        if cut:
            problems.append(Problem(MIME_TRUNCATED, f"part {index}: text over {limit} bytes"))
        decoded, code = decode_bytes(data[:limit], charset, partial=cut)
        if code:
            problems.append(Problem(code, f"part {index}: {charset or 'no charset'}"))
        decoded = cut_mark_runs(decoded, problems, f"part {index}")
        if "\x00" in decoded:
            problems.append(Problem(MIME_NUL_BYTES, f"part {index}"))
        if ctype == "text/html":
            html = decoded.replace("\x00", "")
            text, anchors, tags, tags_cut = html_to_text(html, min(MAX_HTML_TAGS, budget.tags))
            budget.tags -= tags
            if tags_cut:
                problems.append(Problem(MIME_TRUNCATED, f"part {index}: HTML over {tags} tags"))
        else:
            text = _clean_plain(decoded)
            raw_text = decoded.replace("\x00", "")
            raw_text = "" if raw_text == text else raw_text
        budget.text -= len(decoded)
    part = Part(index=index, content_type=ctype, charset=charset, filename=filename,
                disposition=disposition, size=size, text=text, is_attachment=is_attachment,
                html=html, depth=depth, raw_text=raw_text)
    return part, anchors


def _clean_plain(text: str) -> str:
    return INVISIBLE.sub("", text.replace("\x00", ""))


def _build(raw: bytes) -> ParsedMessage:
    problems: list[Problem] = []
    if b"\x00" in raw:
        problems.append(Problem(MIME_NUL_BYTES, "in the raw message"))
    root, state, stopped = parse_bounded(raw)
    if stopped == MIME_TOO_MANY_PARTS:
        problems.append(Problem(MIME_TOO_MANY_PARTS, f"over {MAX_PARSED_OBJECTS} MIME objects"))
    elif stopped == MIME_TRUNCATED:
        problems.append(Problem(MIME_TRUNCATED, "message beyond the parse caps not read"))
    if state.max_depth > MAX_DEPTH:
        problems.append(Problem(MIME_TOO_DEEP, f"nesting over {MAX_DEPTH}"))
    problems.extend(state.problems)
    _walk_defects(root, problems, stopped is not None)

    first_eol = raw.find(b"\n")
    linesep = "\r\n" if first_eol <= 0 or raw[first_eol - 1:first_eol] == b"\r" else "\n"
    return _assemble(root, problems, stopped, len(raw), 0, linesep)


def _assemble(root: Message, problems: list[Problem], stopped: str | None, size: int, level: int,
              linesep: str = "\r\n", source: tuple[Message, str] | bytes | None = None) -> ParsedMessage:
    """The record of a parsed message tree (the whole message, or one attached to it)."""
    headers = []
    for name, value in root.raw_items():
        name = str(name)
        if not isinstance(value, str):
            value = str(value)
        headers.append((name, decode_header_value(value, problems, name[:40])))

    leaves = _leaves(root, problems)
    budget = _Budget()
    parts: list[Part] = []
    collector = LinkCollector(problems)
    for index, (msg, depth) in enumerate(leaves):
        last_of_cut = stopped is not None and index == len(leaves) - 1
        part, anchors = _part_record(msg, index, depth, budget, problems, last_of_cut)
        parts.append(part)
        for href, anchor in anchors:
            collector.from_href(href, anchor, index)
        if part.text:
            collector.from_text(part.text, index)
    inline = [p for p in parts if not p.is_attachment]
    text = "\n\n".join(p.text for p in inline if p.text)
    html = "\n".join(p.html for p in inline if p.html)
    addresses = _address_headers(headers, problems)
    truncated = stopped is not None or any(
        p.code in (MIME_TRUNCATED, MIME_TOO_MANY_PARTS, MIME_TOO_MANY_LINKS) for p in problems)
    attached = _attached_messages(root, level, linesep) if level < MAX_ATTACHED_LEVEL else ()
    return ParsedMessage(tuple(headers), tuple(parts), tuple(collector.links), tuple(problems),
                         text, html, size, truncated, addresses, attached, source)


def _attached_messages(root: Message, level: int, linesep: str) -> tuple[ParsedMessage, ...]:
    """The messages attached under `root`, in document order (at most MAX_ATTACHED); one inside
    another is found by the outer attached message's own walk."""
    found: list[ParsedMessage] = []
    stack: list[Message] = [root]
    while stack and len(found) < MAX_ATTACHED:
        msg = stack.pop()
        payload = stored_payload(msg)
        ctype = msg.get_content_type()
        if msg is not root and ctype == "message/rfc822" and isinstance(payload, list) and payload \
                and isinstance(payload[0], Message):
            found.append(_assemble(payload[0], [], None, 0, level + 1, linesep, (payload[0], linesep)))
        elif ctype == "text/rfc822-headers":
            data, _, _ = payload_bytes(msg)
            found.append(_headers_only(data[:MAX_PARAM_HEADER_CHARS * 64], level + 1, linesep))
        elif isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
    return tuple(found)


def _headers_only(data: bytes, level: int, linesep: str) -> ParsedMessage:
    block = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    root, _, stopped = parse_bounded(block + b"\r\n\r\n")
    eol = b"\r\n" if b"\r\n" in block or b"\n" not in block else b"\n"
    return _assemble(root, [], stopped, len(block), level, linesep, block.rstrip(b"\r\n") + eol)


def _address_headers(headers: list[tuple[str, str]], problems: list[Problem]) -> tuple[tuple[str, AddressField], ...]:
    fields, unparsed = parse_fields(headers)
    problems.extend(Problem(MIME_BAD_ADDRESS_HEADER, detail) for detail in unparsed)
    return fields


def _fallback(raw: bytes, exc: BaseException) -> ParsedMessage:
    """The parser failed: headers split by hand, the rest read as one text body."""
    problems = [Problem(MIME_PARSE_ERROR, type(exc).__name__)]
    raw = raw[:MAX_PARSE_BYTES]
    end = header_block_end(raw, len(raw))
    head, body = (raw[:end], raw[end:].lstrip(b"\r\n")) if end < len(raw) else (b"", raw)
    fields: list[tuple[str, list[str]]] = []
    for line in head.decode("latin-1").splitlines():
        if line[:1] in (" ", "\t") and fields:
            if len(fields[-1][1]) < 100:
                fields[-1][1].append(line.strip())
        elif ":" in line and len(fields) < MAX_HEADERS:
            name, _, value = line.partition(":")
            fields.append((name.strip()[:100], [value.strip()]))
    headers = []
    for name, pieces in fields:
        value = " ".join(pieces)[:MAX_HEADER_CHARS].encode("latin-1")
        headers.append((name, decode_header_value(value.decode("ascii", "surrogateescape"), problems, name)))
    text = _clean_plain(cut_mark_runs(guess_decode(body[:MAX_PART_TEXT]), problems, "body"))
    collector = LinkCollector(problems)
    collector.from_text(text, 0)
    part = Part(0, "text/plain", None, None, None, len(body), text, False)
    addresses = _address_headers(headers, problems)
    return ParsedMessage(tuple(headers), (part,), tuple(collector.links), tuple(problems), text, "",
                         len(raw), True, addresses)
