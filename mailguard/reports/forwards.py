"""Inline forwards: the marker lines mail clients write above a forwarded message, the quoted
header block under them, and the original rebuilt from both.

What clients write (English and Vietnamese interfaces):

| client | marker line | header labels |
|---|---|---|
| Gmail | `---------- Forwarded message ---------` / `---------- Thư đã chuyển tiếp ---------` | From Date Subject To / Từ Ngày Chủ đề Tới |
| Outlook | `-----Original Message-----` / `-----Thư gốc-----`, or a line of underscores, or none (its HTML: a bordered `<div>`) | From Sent To Subject / Từ Đã gửi Đến Chủ đề |
| Apple Mail | `Begin forwarded message:` / `Bắt đầu thư được chuyển tiếp:` | From Subject Date To / Từ Chủ đề Ngày Đến |
| Thunderbird, Yahoo | `-------- Forwarded Message --------` / `----- Forwarded Message -----` | Subject Date From To |

A marker counts only when a header block follows it (a From or a Subject among its labels); a
block of From plus Sent, Date or Subject counts without any marker (Outlook's HTML reduced to
text, Outlook's underscores). Lines may carry `> ` quote prefixes. Only the first
MAX_SEARCH_CHARS of a text are searched, and at most MAX_BODY_CHARS of it taken as the body:
plain string work, line by line, no regular expression over the message text.
"""
from __future__ import annotations

import email.utils
import hashlib
import quopri
import unicodedata
from dataclasses import dataclass
from email.header import Header

from mailguard.scan.addresses import parse_field

MAX_SEARCH_CHARS = 64 * 1024  # characters of a text searched for a marker
MAX_BODY_CHARS = 512 * 1024  # characters of a text taken as the forwarded body
MAX_BLOCK_LINES = 60  # lines of a quoted header block (Received lines pasted included)
MAX_LABEL_CHARS = 30  # characters before the ':' of a header line
MAX_VALUE_CHARS = 998  # characters kept of a header value

# Marker lines, in their normal form (NFC, case-folded, without the dashes, underscores, stars,
# spaces and the ':' around them).
MARKERS = frozenset({
    "forwarded message", "original message", "begin forwarded message", "message transféré",
    "thư đã chuyển tiếp", "thư được chuyển tiếp", "thư chuyển tiếp", "bắt đầu thư được chuyển tiếp",
    "thư gốc", "tin nhắn gốc", "tin nhắn đã chuyển tiếp", "tin nhắn được chuyển tiếp",
})

# Header labels, in their normal form, to the header each stands for.
LABELS = {
    "from": "From", "từ": "From", "người gửi": "From",
    "date": "Date", "sent": "Date", "ngày": "Date", "đã gửi": "Date", "thời gian": "Date", "ngày gửi": "Date",
    "subject": "Subject", "chủ đề": "Subject", "tiêu đề": "Subject",
    "to": "To", "tới": "To", "đến": "To", "gửi tới": "To", "người nhận": "To",
    "cc": "Cc", "reply-to": "Reply-To", "trả lời tới": "Reply-To",
    "message-id": "Message-ID", "received": "Received", "return-path": "Return-Path",
}
_CONTINUED = frozenset({"Received", "To", "Cc"})  # may run over indented lines


@dataclass(frozen=True)
class InlineForward:
    headers: tuple[tuple[str, str], ...]  # (canonical name, value as quoted), in order
    body: str  # the text after the header block
    marker: str  # the marker line in its normal form; "" when a bare header block was found

    def first(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def named(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _unquote(line: str) -> str:
    """A line without its `> ` quote prefixes and surrounding white space."""
    j = 0
    n = len(line)
    while j < n and line[j] in "> \t\xa0":
        j += 1
    return line[j:].rstrip()


def _indent_after_quotes(raw: str) -> bool:
    """Whether a line starts with white space after its quote prefixes (`> `, `>> `): a field
    folded where it was written."""
    j, n = 0, len(raw)
    while j < n and raw[j] == ">":
        j += 1
        if j < n and raw[j] == " ":
            j += 1
    return j < n and raw[j] in " \t"


def _marker(line: str) -> str:
    if len(line) > 120 or not line:
        return ""
    core = _normal(line.strip("-_*=: \t\xa0"))
    return core if core in MARKERS else ""


def _underscores(line: str) -> bool:
    return len(line) >= 8 and not line.strip("_")


def _header_line(line: str) -> tuple[str, str] | None:
    """(canonical name, value) of a quoted header line such as `From: x`, `*Từ:* x`."""
    colon = line.find(":", 0, MAX_LABEL_CHARS + 4)
    if colon <= 0:
        return None
    label = _normal(line[:colon].strip("*_ \t\xa0"))
    name = LABELS.get(label)
    if name is None:
        return None
    value = line[colon + 1:].strip("*_ \t\xa0")
    return name, value[:MAX_VALUE_CHARS]


def _block(lines: list[str], start: int, indented: set[int]) -> tuple[list[tuple[str, str]], int]:
    """The header block from lines[start] (blank lines before it skipped, at most 3): its
    fields and the index of the first line after it. A line in `indented` (it started with
    white space where it was written) continues a Received, To or Cc field."""
    i = start
    skipped = 0
    while i < len(lines) and not lines[i] and skipped < 3:
        i += 1
        skipped += 1
    fields: list[tuple[str, str]] = []
    while i < len(lines) and len(fields) < MAX_BLOCK_LINES:
        line = lines[i]
        field = _header_line(line) if line else None
        if field is not None:
            fields.append(field)
        elif fields and line and fields[-1][0] in _CONTINUED and i in indented:
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + line)[:MAX_VALUE_CHARS * 4])
        else:
            break
        i += 1
    return fields, i


def _is_block(fields: list[tuple[str, str]], marked: bool) -> bool:
    names = {name for name, _ in fields}
    if marked:
        return "From" in names or "Subject" in names
    return "From" in names and bool(names & {"Date", "Subject"}) and fields[0][0] == "From"


def find_inline(text: str) -> InlineForward | None:
    """The first inline forward in `text` (a part's visible text), or None."""
    if not isinstance(text, str) or not text:
        return None
    text = text[:MAX_BODY_CHARS]
    raw_lines = text.splitlines()
    lines: list[str] = []
    indented: set[int] = set()
    searched = 0
    search_end = None
    for index, raw in enumerate(raw_lines):
        stripped = _unquote(raw)
        if stripped and _indent_after_quotes(raw):
            indented.add(index)
        lines.append(stripped)
        searched += len(raw) + 1
        if search_end is None and searched >= MAX_SEARCH_CHARS:
            search_end = index + 1
    if search_end is None:
        search_end = len(lines)
    i = 0
    while i < search_end:
        line = lines[i]
        marker = _marker(line) if line else ""
        if marker or (line and _underscores(line)):
            fields, after = _block(lines, i + 1, indented)
            if fields and _is_block(fields, bool(marker)):
                return InlineForward(tuple(fields), "\n".join(lines[after:]).strip(), marker)
        elif line[:1] in "FfTtNn*":  # From / Từ / Người gửi: a block without a marker
            fields, after = _block(lines, i, indented)
            if fields and _is_block(fields, False):
                return InlineForward(tuple(fields), "\n".join(lines[after:]).strip(), "")
            if len(fields) > 1:  # not a block: none starts inside it either (each line read once)
                i = after - 1
        i += 1
    return None


# The start of the quoted original in the HTML clients write (lower-case; searched as is).
HTML_ANCHORS = (
    "gmail_quote", "divrplyfwdmsg", "border-top:solid #e1e1e1", "border-top: solid #e1e1e1",
    "border-top:solid #b5c4df", "-----original message-----", "begin forwarded message",
    "forwarded message", "thư đã chuyển tiếp", "thư gốc", "<blockquote type=\"cite\"",
)


def html_tail(html: str) -> str:
    """The HTML of the forwarded original: from the tag holding the first anchor clients put
    there; "" when none is found in the first MAX_SEARCH_CHARS."""
    if not isinstance(html, str) or not html:
        return ""
    low = html[:MAX_SEARCH_CHARS].lower()
    found = [at for at in (low.find(a) for a in HTML_ANCHORS) if at >= 0]
    if not found:
        return ""
    at = min(found)
    start = low.rfind("<", 0, at + 1)
    return html[max(0, start):MAX_BODY_CHARS]


def sender_of(value: str) -> str:
    """The address of a quoted From value: `Name <addr>`, a bare address, Outlook's
    `Name [mailto:addr]`; "" when it holds none."""
    if not value:
        return ""
    value = value.replace("[mailto:", "<").replace("<mailto:", "<").replace("mailto:", "")
    value = value.replace("]", ">") if "<" in value else value
    for address in parse_field(value).addresses:
        if "@" in address.address:
            return address.address.strip().strip("<>")
    return ""


def _clean(value: str) -> str:
    return "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in value).strip()[:MAX_VALUE_CHARS]


def _field(name: str, value: str) -> bytes:
    value = _clean(value)
    if name == "From":
        address = sender_of(value)
        if address:
            display = value.split("<", 1)[0].split("[mailto:", 1)[0].strip().strip('"').strip()
            if display and display != address:
                return b"From: " + email.utils.formataddr((display, address), "utf-8").encode("ascii", "replace")
            return b"From: " + address.encode("utf-8")
    if name == "Date":
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            when = None
        if when is None:
            return b""
        return b"Date: " + email.utils.format_datetime(when).encode("ascii")
    if value.isascii():
        return f"{name}: {value}".encode("ascii")
    try:
        encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    except Exception:
        return b""
    return f"{name}: {encoded}".encode("ascii", "replace")


def _body_part(text: str, subtype: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8", "replace")
    head = f"Content-Type: text/{subtype}; charset=utf-8\r\n".encode("ascii")
    if data.isascii() and all(len(line) <= 998 for line in data.split(b"\n")):
        return head + b"Content-Transfer-Encoding: 7bit\r\n\r\n" + data.replace(b"\n", b"\r\n") + b"\r\n"
    encoded = quopri.encodestring(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + encoded + b"\r\n"


def rebuild(forward: InlineForward, html: str = "") -> bytes:
    """A message made of the quoted header lines and the quoted body (and the HTML of the
    original, when the report had it): what the intake learns from and attaches onward."""
    fields = [f for f in (_field(name, value) for name, value in forward.headers) if f]
    fields.append(b"MIME-Version: 1.0")
    plain = _body_part(forward.body, "plain")
    if not html:
        return b"\r\n".join(fields) + b"\r\n" + plain
    rich = _body_part(html, "html")
    boundary = "=_mg_" + hashlib.sha256(plain + rich).hexdigest()[:24]
    fields.append(f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode("ascii"))
    sep = b"--" + boundary.encode("ascii")
    return (b"\r\n".join(fields) + b"\r\n\r\n" + sep + b"\r\n" + plain + sep + b"\r\n" + rich
            + sep + b"--\r\n")
