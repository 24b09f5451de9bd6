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
"""
from __future__ import annotations

import base64
import binascii
import codecs
import functools
import ipaddress
import logging
import quopri
import re
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from functools import cached_property
from html.parser import HTMLParser
from urllib.parse import unquote

from mailguard.scan.addresses import ADDRESS_HEADERS, Address, AddressField, parse_field, parse_fields
from mailguard.scan.text import MAX_MARKS, bound_marks

log = logging.getLogger("mailguard.message")

# ---------------------------------------------------------------------------------------------
# Caps. Each bounds one loop; hitting one records the problem named beside it and stops.
# ---------------------------------------------------------------------------------------------
MAX_PARSE_BYTES = 32 * 1024 * 1024  # bytes of the message given to the MIME parser (MIME_TRUNCATED)
MAX_PARSE_LINES = 400_000  # line units fed to the MIME parser; a line costs 1 + the deepest
#                            nesting seen so far, as the parser's per-line work does (MIME_TRUNCATED)
HEADER_LINE_COST = 4  # a line of the top-level header block counts as this many line units
FEED_CHUNK = 16 * 1024  # the parser is fed in chunks of this size; caps are checked between them
MAX_PARSED_OBJECTS = 2_000  # message objects (parts and containers) the parser may create
#                             (MIME_TOO_MANY_PARTS)
MAX_PARTS = 1_000  # leaf parts walked and recorded (MIME_TOO_MANY_PARTS)
MAX_DEPTH = 20  # multipart / message nesting; deeper parts are kept as opaque bodies (MIME_TOO_DEEP)
MAX_HEADERS = 500  # header fields kept per part (MIME_TOO_MANY_HEADERS)
MAX_HEADER_CHARS = 32 * 1024  # characters kept of one header field's value (MIME_LONG_HEADER)
MAX_LINE = 998  # RFC 5322 §2.1.1 line limit; a longer header line is MIME_LONG_HEADER
MAX_PARAM_HEADER_CHARS = 2_048  # Content-Type / -Disposition kept for parameter parsing, since
MAX_PARAMS = 24  # the stdlib's parameter parser is quadratic in both (MIME_LONG_HEADER)
MAX_PART_TEXT = 1024 * 1024  # decoded bytes of one text part turned into text (MIME_TRUNCATED)
MAX_TOTAL_TEXT = 4 * 1024 * 1024  # characters of text over all parts (MIME_TRUNCATED)
MAX_B64_SEGMENTS = 64  # base64 pieces (padding inside the data) decoded one by one
MAX_TAG = 8_192  # characters of one HTML tag; a longer one is read as text
MAX_HTML_TAGS = 40_000  # HTML work units read per part: a tag costs 1 + its attributes
#                         (html.parser's cost is per attribute), a '<' that starts none 1
#                         (MIME_TRUNCATED)
MAX_TOTAL_HTML_TAGS = 60_000  # the same over all parts of a message (MIME_TRUNCATED)
MAX_LINKS = 1_000  # link records kept (MIME_TOO_MANY_LINKS)
MAX_LINK_CANDIDATES = 10_000  # URLs examined, kept or not (MIME_TOO_MANY_LINKS)
MAX_URL = 2_048  # characters of one URL
MAX_ANCHOR_TEXT = 1_000  # characters kept of one anchor's text
MAX_ATTACHED = 10  # attached messages (message/rfc822, text/rfc822-headers) kept as parsed messages
MAX_ATTACHED_LEVEL = 3  # attached in attached in attached; deeper ones are only in the flat parts
MAX_PROBLEM_DETAILS = 3  # details merged into one symbol by problem_symbols()

# Problem codes (each becomes a symbol of that name in the pipeline).
MIME_BAD_BOUNDARY = "MIME_BAD_BOUNDARY"  # multipart without boundary, or boundary / close missing
MIME_MISSING_CHARSET = "MIME_MISSING_CHARSET"  # 8-bit text with no charset declared
MIME_BAD_CHARSET = "MIME_BAD_CHARSET"  # a charset label no codec knows
MIME_CHARSET_MISMATCH = "MIME_CHARSET_MISMATCH"  # bytes not valid in the declared charset
MIME_BAD_BASE64 = "MIME_BAD_BASE64"  # invalid characters, length or padding
MIME_BAD_CTE = "MIME_BAD_CTE"  # unknown Content-Transfer-Encoding
MIME_NUL_BYTES = "MIME_NUL_BYTES"  # NUL bytes in the message
MIME_TOO_MANY_PARTS = "MIME_TOO_MANY_PARTS"
MIME_TOO_DEEP = "MIME_TOO_DEEP"
MIME_TOO_MANY_HEADERS = "MIME_TOO_MANY_HEADERS"
MIME_TOO_MANY_LINKS = "MIME_TOO_MANY_LINKS"
MIME_LONG_HEADER = "MIME_LONG_HEADER"  # a header line over 998 characters, or a huge field
MIME_HEADER_DEFECT = "MIME_HEADER_DEFECT"  # the parser's header defects; ";;;;"-padded params
MIME_8BIT_HEADER = "MIME_8BIT_HEADER"  # raw 8-bit header bytes that are not UTF-8
MIME_BAD_ENCODED_WORD = "MIME_BAD_ENCODED_WORD"  # an RFC 2047 word that does not decode
MIME_TRUNCATED = "MIME_TRUNCATED"  # a size cap was hit: what follows was not looked at
MIME_DEFECT = "MIME_DEFECT"  # any other defect the parser reports
MIME_PARSE_ERROR = "MIME_PARSE_ERROR"  # the parser failed; the message was read best-effort
MIME_BAD_ADDRESS_HEADER = "MIME_BAD_ADDRESS_HEADER"  # an address field too deep or unparseable
MIME_COMBINING_RUN = "MIME_COMBINING_RUN"  # over MAX_MARKS combining marks on one letter (cut)
PROBLEM_CODES = (
    MIME_BAD_BOUNDARY, MIME_MISSING_CHARSET, MIME_BAD_CHARSET, MIME_CHARSET_MISMATCH,
    MIME_BAD_BASE64, MIME_BAD_CTE, MIME_NUL_BYTES, MIME_TOO_MANY_PARTS, MIME_TOO_DEEP,
    MIME_TOO_MANY_HEADERS, MIME_TOO_MANY_LINKS, MIME_LONG_HEADER, MIME_HEADER_DEFECT,
    MIME_8BIT_HEADER, MIME_BAD_ENCODED_WORD, MIME_TRUNCATED, MIME_DEFECT, MIME_PARSE_ERROR,
    MIME_BAD_ADDRESS_HEADER, MIME_COMBINING_RUN,
)

_DEFECT_CODES = {
    "NoBoundaryInMultipartDefect": MIME_BAD_BOUNDARY,
    "StartBoundaryNotFoundDefect": MIME_BAD_BOUNDARY,
    "CloseBoundaryNotFoundDefect": MIME_BAD_BOUNDARY,
    "MultipartInvariantViolationDefect": MIME_BAD_BOUNDARY,
    "FirstHeaderLineIsContinuationDefect": MIME_HEADER_DEFECT,
    "MisplacedEnvelopeHeaderDefect": MIME_HEADER_DEFECT,
    "MissingHeaderBodySeparatorDefect": MIME_HEADER_DEFECT,
    "MalformedHeaderDefect": MIME_HEADER_DEFECT,
    "InvalidHeaderDefect": MIME_HEADER_DEFECT,
    "HeaderMissingRequiredValue": MIME_HEADER_DEFECT,
    "NonPrintableDefect": MIME_HEADER_DEFECT,
    "ObsoleteHeaderDefect": MIME_HEADER_DEFECT,
    "InvalidMultipartContentTransferEncodingDefect": MIME_BAD_CTE,
    "InvalidBase64PaddingDefect": MIME_BAD_BASE64,
    "InvalidBase64CharactersDefect": MIME_BAD_BASE64,
    "InvalidBase64LengthDefect": MIME_BAD_BASE64,
    "UndecodableBytesDefect": MIME_8BIT_HEADER,
}


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    code: str  # a MIME_* name
    detail: str = ""


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
class Link:
    url: str  # normalized: scheme lower-case and de-obfuscated, "://", the ASCII host
    host: str  # lower-case ASCII (IDN as punycode); an IP literal in its canonical form
    host_unicode: str  # the host for people (punycode decoded)
    domain: str | None  # registered domain by the Public Suffix List; None for IPs
    ip: str | None  # set when the host is an IP literal (decimal/hex/octal forms converted)
    anchor_text: str  # what the reader sees for an HTML anchor; "" for links found in text
    part_index: int
    found_by: str  # "text" | "href" | "obfuscated"


# ---------------------------------------------------------------------------------------------
# Charsets
# ---------------------------------------------------------------------------------------------
# Codecs that are not charsets, or whose decoders are slow or surprising on hostile input.
_REFUSED_CODECS = frozenset({
    "punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs", "oem",
    "charmap", "escape_codec", "unicode_internal",
})
# Labels decoded as windows-1252 as browsers do (WHATWG), falling back to latin-1.
_LATIN1_LIKE = frozenset({"ascii", "latin_1", "cp1252", "iso8859_1"})


@functools.lru_cache(maxsize=256)
def _codec(label: str | None) -> str | None:
    """The Python codec name for a charset label; None when unknown or refused."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label or len(label) > 64:
        return None
    if label in ("unknown-8bit", "x-unknown", "unknown"):
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def _guess_decode(data: bytes) -> str:
    """Bytes of unknown charset: UTF-8 when valid, else latin-1 (never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_NO_CHARSET_LABELS = frozenset({"", "unknown-8bit", "x-unknown", "unknown"})


def decode_bytes(data: bytes, charset: str | None, partial: bool = False) -> tuple[str, str | None]:
    """Decode `data` declared as `charset`, best effort: (text, problem code or None).

    - no charset: ASCII; 8-bit data is UTF-8 when valid, else windows-1252 / latin-1
      (MIME_MISSING_CHARSET);
    - a label no codec knows: the same guess (MIME_BAD_CHARSET);
    - ASCII / latin-1 labels: windows-1252 as browsers do (WHATWG), UTF-8 first when labelled
      ASCII but 8-bit (MIME_CHARSET_MISMATCH);
    - bytes invalid in the declared charset: UTF-8 when valid, else the declared charset with
      replacement characters (MIME_CHARSET_MISMATCH).
    `partial` when `data` was cut: an incomplete final character is dropped, not an error.
    """
    label = (charset or "").strip().strip("\"'").lower()
    codec = _codec(label)
    if partial:
        data = _trim_partial(data, codec or "utf-8")
    if codec is None:
        problem = MIME_BAD_CHARSET if label not in _NO_CHARSET_LABELS else None
        if data.isascii():
            return data.decode("ascii"), problem
        if not label:
            problem = MIME_MISSING_CHARSET
        try:
            return data.decode("utf-8"), problem
        except UnicodeDecodeError:
            return _cp1252_or_latin1(data), problem
    if codec in _LATIN1_LIKE:
        if data.isascii():
            return data.decode("ascii"), None
        if codec == "ascii":  # labelled ASCII but 8-bit: usually UTF-8 mislabelled
            try:
                return data.decode("utf-8"), MIME_CHARSET_MISMATCH
            except UnicodeDecodeError:
                return _cp1252_or_latin1(data), MIME_CHARSET_MISMATCH
        return _cp1252_or_latin1(data), None
    try:
        return data.decode(codec), None
    except UnicodeDecodeError:
        pass
    except Exception:  # a codec failing otherwise on hostile input
        return _guess_decode(data), MIME_BAD_CHARSET
    if codec != "utf-8":
        try:
            return data.decode("utf-8"), MIME_CHARSET_MISMATCH
        except UnicodeDecodeError:
            pass
    try:
        return data.decode(codec, "replace"), MIME_CHARSET_MISMATCH
    except Exception:
        return _guess_decode(data), MIME_CHARSET_MISMATCH


def _cp1252_or_latin1(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _trim_partial(data: bytes, codec: str) -> bytes:
    """Cut data without the incomplete multi-byte character at its end, if any."""
    try:
        decoder = codecs.getincrementaldecoder(codec)("replace")
        decoder.decode(data, final=False)
        pending = decoder.getstate()[0]
    except Exception:
        return data
    return data[:len(data) - len(pending)] if pending else data


# ---------------------------------------------------------------------------------------------
# Header values: unfolding, 8-bit bytes, RFC 2047 encoded words
# ---------------------------------------------------------------------------------------------
# Lenient about spaces inside the encoded text (broken mailers write them); still linear:
# every piece is a single character class delimited by '?'.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]{1,64})(?:\*[^?\s]{0,32})?\?([bBqQ])\?([^?]{0,8192})\?=")
_FOLD = re.compile(r"\r?\n|\r")
_BETWEEN_WORDS = re.compile(r"[ \t]*")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


def _unsurrogate(value: str) -> tuple[str, bool]:
    """A compat32 header string holds 8-bit bytes as surrogates: decode them (UTF-8, else
    windows-1252/latin-1). Returns (text, True when the bytes were not UTF-8)."""
    try:
        value.encode("utf-8")
        return value, False
    except UnicodeEncodeError:
        pass
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return _cp1252_or_latin1(data), True


def _decode_word_payload(enc: str, text: str) -> tuple[bytes, bool]:
    """The bytes of one encoded word's text, and whether it was malformed."""
    if enc in "bB":
        body = text.rstrip("=")
        clean = re.sub(r"[^A-Za-z0-9+/]", "", body)
        bad = clean != body or len(clean) % 4 == 1
        if len(clean) % 4 == 1:
            clean = clean[:-1]
        return base64.b64decode(clean + "=" * (-len(clean) % 4)), bad
    return binascii.a2b_qp(text.encode("ascii", "replace"), header=True), False


_LOOSE_WORD = re.compile(r"=\?[\w.:-]{1,64}\?[bBqQ]\?")


def decode_header_value(value: str, problems: list[Problem] | None = None, name: str = "") -> str:
    """Unfold and decode one header value (RFC 2047 words in any charset, 8-bit bytes)."""
    value = _FOLD.sub("", value)
    value, bad8bit = _unsurrogate(value)
    if bad8bit and problems is not None:
        problems.append(Problem(MIME_8BIT_HEADER, name))
    if "=?" in value:
        value = _decode_words(value, problems, name)
    if "\x00" in value:
        value = value.replace("\x00", "")
        if problems is not None:
            problems.append(Problem(MIME_NUL_BYTES, f"header {name}"))
    return _bounded_marks(value, problems, name).strip()


def _bounded_marks(text: str, problems: list[Problem] | None, where: str) -> str:
    """`text` with its runs of combining marks cut (scan/text.py), the cut recorded: done here,
    once, so that no check's normalisation meets a long run."""
    text, runs = bound_marks(text)
    if runs and problems is not None:
        problems.append(Problem(MIME_COMBINING_RUN, f"{where}: {runs} runs over {MAX_MARKS} marks"))
    return text


def _decode_words(value: str, problems: list[Problem] | None, name: str) -> str:
    out: list[str] = []
    pos = 0
    # Adjacent words (only whitespace between) are joined; same-charset neighbours are decoded
    # together, since broken mailers split multi-byte characters across words.
    pending: list[bytes] = []
    pending_cs: str | None = None

    def flush() -> None:
        nonlocal pending, pending_cs
        if pending:
            text, code = decode_bytes(b"".join(pending), pending_cs)
            if code in (MIME_BAD_CHARSET, MIME_CHARSET_MISMATCH) and problems is not None:
                problems.append(Problem(MIME_BAD_CHARSET if code == MIME_BAD_CHARSET
                                        else MIME_BAD_ENCODED_WORD, f"{name}: {pending_cs}"))
            out.append(text)
        pending, pending_cs = [], None

    gaps: list[str] = []
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos:m.start()]
        gaps.append(gap)
        if gap and (not pending or _BETWEEN_WORDS.fullmatch(gap) is None):
            flush()
            out.append(gap)
        charset, enc, text = m.group(1).lower(), m.group(2), m.group(3)
        try:
            data, bad = _decode_word_payload(enc, text)
            if bad and problems is not None:
                problems.append(Problem(MIME_BAD_ENCODED_WORD, f"{name}: malformed {enc} word"))
        except (binascii.Error, ValueError):
            flush()
            if problems is not None:
                problems.append(Problem(MIME_BAD_ENCODED_WORD, f"{name}: undecodable {enc} word"))
            out.append(m.group(0))
            pos = m.end()
            continue
        if pending and charset != pending_cs:
            flush()
        pending.append(data)
        pending_cs = charset
        pos = m.end()
    flush()
    out.append(value[pos:])
    gaps.append(value[pos:])
    if problems is not None and any(_LOOSE_WORD.search(gap) for gap in gaps):
        problems.append(Problem(MIME_BAD_ENCODED_WORD, f"{name}: unterminated word"))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The bounded MIME parse
# ---------------------------------------------------------------------------------------------
class _ParseState:
    """What the parser's message objects report while the parser runs."""

    def __init__(self) -> None:
        self.objects = 0
        self.max_depth = 0
        self.problems: list[Problem] = []
        self.counting = False


_EMPTY_PARAMS = re.compile(r";[\s;]*;")


def _clip_params(value: str) -> tuple[str, bool | None]:
    """Content-Type / -Disposition cut to a size the stdlib's parameter parser handles fast
    (it is quadratic in the length and the number of parameters). Runs of empty parameters
    (";;;;", a spam trick) are collapsed first so that what follows them is kept.
    Returns (value, True when cut / None when only collapsed / False when untouched)."""
    clipped = False
    if ";;" in value or "; ;" in value or ";\t;" in value:
        value = _EMPTY_PARAMS.sub(";", value)
        clipped = None  # not cut, but padded with empty parameters
    if len(value) > MAX_PARAM_HEADER_CHARS:
        value, clipped = value[:MAX_PARAM_HEADER_CHARS], True
    if value.count(";") > MAX_PARAMS:
        cut = -1
        for _ in range(MAX_PARAMS + 1):
            cut = value.find(";", cut + 1)
        value, clipped = value[:cut], True
    return value, clipped


class _BoundedMessage(Message):
    """compat32 Message that caps headers and nesting while the feed parser builds it."""

    _mg_state: _ParseState | None = None
    _mg_depth = 0
    _mg_headers = 0

    def attach(self, payload):  # the feed parser attaches every new part to its parent
        if isinstance(payload, _BoundedMessage):
            payload._mg_depth = self._mg_depth + 1
            state = self._mg_state
            if state is not None and payload._mg_depth > state.max_depth:
                state.max_depth = payload._mg_depth
        return super().attach(payload)

    def get_content_type(self):
        if self._mg_depth > MAX_DEPTH:  # too deep: not parsed further, an opaque body
            return "application/octet-stream"
        return super().get_content_type()

    def set_raw(self, name, value):
        state = self._mg_state
        if state is None:
            return super().set_raw(name, value)
        self._mg_headers += 1
        if self._mg_headers > MAX_HEADERS:
            if self._mg_headers == MAX_HEADERS + 1:
                state.problems.append(Problem(MIME_TOO_MANY_HEADERS, f"over {MAX_HEADERS}"))
            return None
        if isinstance(value, str):
            if len(name) + len(value) + 2 > MAX_LINE and any(
                    len(line) > MAX_LINE for line in (name + ": " + value).splitlines()):
                state.problems.append(Problem(MIME_LONG_HEADER, f"{name[:40]} line over {MAX_LINE}"))
            if len(value) > MAX_HEADER_CHARS:
                value = value[:MAX_HEADER_CHARS]
                state.problems.append(Problem(MIME_LONG_HEADER, f"{name[:40]} cut at {MAX_HEADER_CHARS}"))
            if name.lower() in ("content-type", "content-disposition"):
                value, clipped = _clip_params(value)
                if clipped:
                    state.problems.append(Problem(MIME_LONG_HEADER, f"{name} parameters cut"))
                elif clipped is None:
                    state.problems.append(Problem(MIME_HEADER_DEFECT, f"{name}: empty parameters"))
        return super().set_raw(name, value)


def _header_block_end(raw: bytes, limit: int) -> int:
    ends = [pos for pos in (raw.find(b"\n\n", 0, limit), raw.find(b"\r\n\r\n", 0, limit)) if pos >= 0]
    return min(ends) if ends else limit


def _parse(raw: bytes) -> tuple[Message, _ParseState, str | None]:
    """Feed the parser chunk by chunk, stopping at the caps. Returns (root, state, stop reason)."""
    state = _ParseState()

    def factory(policy=compat32):
        msg = _BoundedMessage(policy=policy)
        if state.counting:
            msg._mg_state = state
            state.objects += 1
        return msg

    parser = BytesFeedParser(_factory=factory, policy=compat32)
    state.counting = True
    stopped: str | None = None
    work = 0
    limit = min(len(raw), MAX_PARSE_BYTES)
    header_end = _header_block_end(raw, limit)
    for start in range(0, limit, FEED_CHUNK):
        end = min(start + FEED_CHUNK, limit)
        chunk = raw[start:end]
        work += (chunk.count(b"\n") or 1) * (1 + state.max_depth)
        if start < header_end:  # header lines cost the parser several times a body line
            work += raw.count(b"\n", start, min(end, header_end)) * (HEADER_LINE_COST - 1)
        parser.feed(chunk)
        if state.objects > MAX_PARSED_OBJECTS:
            stopped = MIME_TOO_MANY_PARTS
            break
        if work > MAX_PARSE_LINES:
            stopped = MIME_TRUNCATED
            break
    else:
        if len(raw) > MAX_PARSE_BYTES:
            stopped = MIME_TRUNCATED
    root = parser.close()
    return root, state, stopped


# ---------------------------------------------------------------------------------------------
# Transfer encodings
# ---------------------------------------------------------------------------------------------
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_NOT_ALPHABET = bytes(c for c in range(256) if c not in _B64_ALPHABET)
_B64_PAD = re.compile(rb"=+")


def _decode_base64(data: bytes, want_bytes: bool = True) -> tuple[bytes, int, str | None]:
    """Lenient base64 (what mail clients show): (decoded bytes, decoded size, what was wrong).
    With `want_bytes` False only the size is worked out (attachments need no decoding)."""
    clean = data.translate(None, _B64_NOT_ALPHABET)  # C speed, unlike a regex
    problem = None
    if len(clean) != len(data) - sum(data.count(c) for c in (b" ", b"\t", b"\r", b"\n")):
        problem = "invalid characters"
    body = clean.rstrip(b"=")
    pad = len(clean) - len(body)
    segments = [body]
    if b"=" in body:  # padding inside: concatenated encodings, decoded one by one
        segments = [seg for seg in _B64_PAD.split(body, MAX_B64_SEGMENTS) if seg]
        if len(segments) > MAX_B64_SEGMENTS:  # too many to decode one by one: run together
            segments = segments[:MAX_B64_SEGMENTS - 1] + [segments[-1].replace(b"=", b"")]
        problem = problem or "data after padding"
    out = []
    size = 0
    for i, seg in enumerate(segments):
        rest = len(seg) % 4
        if rest == 1:
            seg = seg[:-1]
            problem = problem or "bad length"
        elif rest and i == len(segments) - 1 and pad != 4 - rest:
            problem = problem or "missing padding"
        size += len(seg) // 4 * 3 + max(0, len(seg) % 4 - 1)
        if want_bytes:
            try:
                out.append(binascii.a2b_base64(seg + b"=" * (-len(seg) % 4)))
            except binascii.Error as exc:
                problem = problem or str(exc)
    return b"".join(out), size, problem


def _stored_payload(msg: Message) -> object:
    """A part's payload as the parser stored it: a list of parts, or the body with its 8-bit
    bytes as surrogates. Never `get_payload()`: for 8-bit text compat32 decodes it with the
    declared charset, and a sender's charset (idna, undefined, a NUL in the name, an RFC 2231
    tuple) makes that raise."""
    return getattr(msg, "_payload", None)


def _payload_bytes(part: Message, want_bytes: bool = True) -> tuple[bytes, int, list[Problem]]:
    """The decoded body of a leaf part, its decoded size and the problems met decoding it.
    With `want_bytes` False, a base64 body is only measured, not decoded."""
    problems: list[Problem] = []
    payload = _stored_payload(part)
    if isinstance(payload, list):  # message/delivery-status and the like: header blocks
        texts = []
        for block in payload[:MAX_PARTS]:
            if isinstance(block, Message):
                texts.append("".join(f"{k}: {v}\n" for k, v in block.raw_items()))
        data = "\n".join(texts).encode("utf-8", "surrogateescape")
        return data, len(data), problems
    if isinstance(payload, bytes):
        return payload, len(payload), problems
    if not isinstance(payload, str):
        return b"", 0, problems
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # real non-ASCII characters (not from bytes): keep them as UTF-8
        data = payload.encode("utf-8", "surrogateescape")
    cte = str(part.get("content-transfer-encoding", "") or "").strip().strip("\"'").lower()
    if cte in ("", "7bit", "8bit", "binary", "7-bit", "8-bit", "none"):
        return data, len(data), problems
    if cte == "base64":
        decoded, size, problem = _decode_base64(data, want_bytes)
        if problem:
            problems.append(Problem(MIME_BAD_BASE64, problem))
        return decoded, size, problems
    if cte == "quoted-printable":
        decoded = quopri.decodestring(data)
        return decoded, len(decoded), problems
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        try:
            decoded = part.get_payload(decode=True)
        except Exception:
            decoded = None
        decoded = decoded if isinstance(decoded, bytes) else data
        return decoded, len(decoded), problems
    problems.append(Problem(MIME_BAD_CTE, cte[:40]))
    return data, len(data), problems


# ---------------------------------------------------------------------------------------------
# HTML to visible text
# ---------------------------------------------------------------------------------------------
# A complete tag: name, then attributes with quoted values that hold no '<'. Possessive
# quantifiers: nothing backtracks, and a match never runs past the next '<'.
_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/><]*+)((?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+)>""")
_RAW_TEXT_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br center dd div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol option p pre section table tbody td tfoot "
    "th thead tr ul caption body html".split())
_SKIP_TAGS = frozenset({"title", "template"})
# Elements whose end the HTML parser never implies early, so their hiding is tracked.
_HIDEABLE = frozenset({"div", "span", "font", "table", "center", "section", "article", "a", "b",
                       "i", "u", "em", "strong", "small", "big", "aside", "header", "footer"})
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|!|$)",
    re.I)
_SPACES = re.compile(r"[ \t\r\f\v\xa0\u2000-\u200a\u3000]+")
_NEWLINES = re.compile(r" ?\n[\s\xa0]*")


_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])")
_LT = "\ufdd0"  # stands for a literal '<' (a noncharacter: never in real text) until the end


def _html_safe(html: str, max_tags: int = MAX_HTML_TAGS) -> tuple[str, int, bool]:
    """HTML with comments, declarations, scripts and styles removed and every stray '<'
    escaped, so that html.parser never waits for the end of an unclosed construct (which
    makes it quadratic). Linear: every step moves forward, every search stops at a '<' or
    ends the document. At most `max_tags` tags are read: returns (safe HTML, tags read, cut)."""
    if "<" in html:
        html = _STRAY_LT.sub(_LT, html)
    out: list[str] = []
    pos, n = 0, len(html)
    tags = 0
    while pos < n:
        if tags >= max_tags:
            return "".join(out), tags, True
        tags += 1
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        nxt = html[lt + 1:lt + 2]
        if nxt in ("!", "?"):
            if html.startswith("<!--", lt):
                end = html.find("-->", lt + 2)
                if end < 0:
                    break  # an unclosed comment hides the rest, as in a browser
                pos = end + 3
            else:  # doctype, CDATA, conditional comments, processing instructions: not shown
                end = html.find(">", lt + 2)
                if end < 0:
                    break
                pos = end + 1
            continue
        m = _TAG.match(html, lt, min(n, lt + MAX_TAG))
        if m is None:
            out.append(_LT)
            pos = lt + 1
            continue
        name = m.group(2).lower()
        if name in _RAW_TEXT_END and not m.group(1):
            close = _RAW_TEXT_END[name].search(html, m.end())
            if close is None:
                break
            end = html.find(">", close.end())
            if end < 0:
                break
            pos = end + 1
            out.append(" ")
            continue
        tag = m.group(0)
        tags += (tag.count("=") + (tag.count(" ") + tag.count("\n") + tag.count("\t")) // 2
                 + len(tag) // 512)
        out.append(tag)
        pos = m.end()
    return "".join(out), tags, False


_HEAD_TAGS = frozenset({"base", "link", "meta", "title", "style", "script", "noscript",
                        "template", "basefont", "bgsound", "head"})


class _VisibleText(HTMLParser):
    """Collects what a reader sees: no head, title, template, script or style (the latter two
    already removed by _html_safe), nor elements hidden by `hidden` or an inline style; block
    elements separate words, inline ones do not (`<b>V</b>iagra` reads "Viagra")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.anchors: list[tuple[str, str]] = []  # (href, visible anchor text)
        self._head = False
        self._skip = 0  # open title / template elements
        self._hidden: list[list] = []  # [tag, open count] of hiding elements
        self._anchor: list | None = None  # [href, [text pieces]]

    def handle_starttag(self, tag, attrs):
        if tag == "head":
            self._head = True
            return
        if self._head and tag not in _HEAD_TAGS:
            self._head = False  # as in HTML5: a body element ends an unclosed head
        if tag in ("a", "area"):  # links count even when hidden; their text only when shown
            if tag == "a":
                self._close_anchor()
            href = dict(attrs).get("href")
            if href:
                if tag == "a":
                    self._anchor = [href, []]
                else:
                    self.anchors.append((href, ""))
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if self._hidden:
            if tag == self._hidden[-1][0]:
                self._hidden[-1][1] += 1
            return
        if tag in _HIDEABLE:
            attr = dict(attrs)
            style = attr.get("style") or ""
            if "hidden" in attr or (style and _HIDDEN_STYLE.search(style[:2000])):
                self._hidden.append([tag, 1])
                return
        if tag in _BLOCK_TAGS:
            self.pieces.append(" " if tag in ("td", "th") else "\n")

    def handle_startendtag(self, tag, attrs):  # "<div/>" opens a div in HTML5; void tags have no end
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "head":
            self._head = False
            return
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
            return
        if self._hidden:
            if tag == self._hidden[-1][0]:
                self._hidden[-1][1] -= 1
                if self._hidden[-1][1] == 0:
                    self._hidden.pop()
            if tag == "a":
                self._close_anchor()
            return
        if tag == "a":
            self._close_anchor()
        if tag in _BLOCK_TAGS:
            self.pieces.append(" " if tag in ("td", "th") else "\n")

    def handle_data(self, data):
        if self._skip or self._hidden:
            return
        if self._head:
            if not data.strip():
                return
            self._head = False  # text in an unclosed head is body text (HTML5)
        self.pieces.append(data)
        if self._anchor is not None:
            self._anchor[1].append(data)

    def _close_anchor(self):
        if self._anchor is not None:
            text = "".join(self._anchor[1]).replace(_LT, "<")
            text = _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()
            self.anchors.append((self._anchor[0], text[:MAX_ANCHOR_TEXT]))
            self._anchor = None

    def finish(self) -> str:
        self.close()
        self._close_anchor()
        return _clean_text("".join(self.pieces).replace(_LT, "<"))


def _clean_text(text: str) -> str:
    """Visible text: invisible characters dropped, runs of blanks and blank lines collapsed."""
    text = _INVISIBLE.sub("", text.replace("\x00", ""))
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def html_to_text(html: str, max_tags: int = MAX_HTML_TAGS) -> tuple[str, list[tuple[str, str]], int, bool]:
    """(visible text, [(href, anchor text)], tags read, cut at max_tags) of an HTML document."""
    safe, tags, cut = _html_safe(html, max_tags)
    parser = _VisibleText()
    parser.feed(safe)
    return parser.finish(), parser.anchors, tags, cut


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------
_SCHEME = r"(?P<scheme>h[tx][tx]ps?|ftp)(?P<sep>://|:\\\\|:/\\|:\\/|\[:\]//)"
# In text: a scheme form anywhere (text glued by HTML rendering has no word boundary), or a bare
# www. host at a word start. The body is one character class, so matching is linear.
_TEXT_URL = re.compile(
    r"(?:" + _SCHEME + r"|(?<![\w.@/-])(?P<www>www\d{0,3}\.))"
    r"(?P<rest>[^\s<>\"'`{}|^\[\]\x00-\x1f\x7f]{1,%d})" % MAX_URL, re.I)
_HREF_URL = re.compile(r"(?:" + _SCHEME + r"|(?P<pr>//))", re.I)
_URL_TRAIL = ".,;:!?)'\"*>]}"
_AUTH_END = re.compile(r"[/?#\\]")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_WS_CTRL = re.compile(r"[\x00-\x20\x7f]+")


@functools.lru_cache(maxsize=1)
def public_suffix_list():
    """The one PublicSuffixList instance (slow to build: built on first use, then shared).
    The list ships inside the package: no network at run time, and never a home-made list."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def registered_domain(host: str) -> str | None:
    """The registered domain of an ASCII host (`www.bbc.co.uk` -> `bbc.co.uk`)."""
    try:
        return public_suffix_list().privatesuffix(host)
    except Exception:
        return None


_IPV4_PART = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]*)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")


def _ipv4_number(part: str) -> int | None:
    m = _IPV4_PART.fullmatch(part)
    if m is None:
        return None
    if m.group("dec") is not None:
        return int(m.group("dec"), 10)
    if m.group("oct") is not None:
        return int(m.group("oct"), 8)
    return int(m.group("hex"), 16) if m.group("hex") else 0


def parse_ipv4(host: str) -> str | None:
    """A WHATWG IPv4 host (decimal, hex, octal, 1-4 parts) in dotted form, else None."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4 or any(len(p) > 12 for p in parts):
        return None
    nums = [_ipv4_number(p) for p in parts]
    if any(n is None for n in nums):
        return None
    *head, last = nums
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(nums)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def _host_to_ascii(host: str) -> str | None:
    labels = _DOTS.split(host)
    if labels and labels[-1] == "":
        labels.pop()
    out = []
    for label in labels:
        if label.isascii():
            out.append(label.lower())
            continue
        try:
            out.append(label.encode("idna").decode("ascii"))
        except Exception:
            try:
                out.append("xn--" + label.lower().encode("punycode").decode("ascii"))
            except Exception:
                return None
    return ".".join(out)


def _host_to_unicode(host: str) -> str:
    if "xn--" not in host:
        return host
    out = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except Exception:
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except Exception:
                    pass
        out.append(label)
    return ".".join(out)


@functools.lru_cache(maxsize=1024)
def normalize_url(scheme: str, rest: str) -> tuple[str, str, str, str | None, str | None, bool] | None:
    """(url, host, host_unicode, domain, ip, obfuscated_host) for `scheme://rest`, or None when
    the host is not a plausible Internet host."""
    m = _AUTH_END.search(rest)
    authority, tail = (rest[:m.start()], rest[m.start():]) if m else (rest, "")
    if "\\" in tail:  # browsers read '\' as '/' in http(s) URLs
        tail = tail.replace("\\", "/")
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        try:
            ip = str(ipaddress.IPv6Address(hostport[1:end].split("%")[0]))
        except ValueError:
            return None
        host = f"[{ip}]"
        port = hostport[end + 1:]
        url = f"{scheme}://{userinfo + '@' if userinfo else ''}{host}{port}{tail}"
        return url, host, host, None, ip, False
    host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        port = ""
    if "%" in host:
        host = unquote(host, errors="replace")
    host = host.strip().rstrip(".。．｡")
    if not host or len(host) > 253:
        return None
    obfuscated = False
    ip = None
    last = _DOTS.split(host)[-1]
    if last.isascii() and (last.isdigit() or last[:2].lower() == "0x"):
        ip = parse_ipv4(host)
        if ip is None:
            return None
        obfuscated = ip != host
        ascii_host = ip
    else:
        ascii_host = _host_to_ascii(host)
        if not ascii_host or len(ascii_host) > 253:
            return None
        labels = ascii_host.split(".")
        if len(labels) < 2 or not _TLD.fullmatch(labels[-1]) or not all(
                _LABEL.fullmatch(lab) for lab in labels):
            return None
    url = (f"{scheme}://{userinfo + '@' if userinfo else ''}{ascii_host}"
           f"{':' + port if port else ''}{tail}")
    if ip:
        return url, ip, ip, None, ip, obfuscated
    return url, ascii_host, _host_to_unicode(ascii_host), registered_domain(ascii_host), None, False


def _strip_trailing(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it; a ')' closing a '(' of
    the URL stays. Linear: the string is cut once."""
    end = len(url)
    opened, closed = url.count("("), url.count(")")
    while end and url[end - 1] in _URL_TRAIL:
        if url[end - 1] == ")":
            if opened >= closed:
                break
            closed -= 1
        end -= 1
    return url[:end]


def _scheme_of(raw_scheme: str, sep: str) -> tuple[str, bool]:
    s = raw_scheme.lower()
    canonical = "ftp" if s == "ftp" else ("https" if s.endswith("s") else "http")
    return canonical, (s != canonical or sep != "://")


class _LinkCollector:
    def __init__(self, problems: list[Problem]) -> None:
        self.links: list[Link] = []
        self._seen: set[tuple] = set()
        self._candidates = 0
        self.full = False
        self._problems = problems

    def _budget(self) -> bool:
        self._candidates += 1
        if self._candidates > MAX_LINK_CANDIDATES or len(self.links) >= MAX_LINKS:
            if not self.full:
                self.full = True
                self._problems.append(Problem(MIME_TOO_MANY_LINKS, f"over {MAX_LINKS} links"))
            return False
        return True

    def _add(self, scheme: str, rest: str, found_by: str, obfuscated: bool, anchor: str,
             part_index: int) -> None:
        norm = normalize_url(scheme, rest[:MAX_URL])
        if norm is None:
            return
        url, host, host_unicode, domain, ip, obf_host = norm
        if obfuscated or obf_host:
            found_by = "obfuscated"
        key = (url, found_by, anchor, part_index)
        if key in self._seen:
            return
        self._seen.add(key)
        self.links.append(Link(url, host, host_unicode, domain, ip, anchor, part_index, found_by))

    def from_text(self, text: str, part_index: int) -> None:
        for m in _TEXT_URL.finditer(text):
            if not self._budget():
                return
            rest = _strip_trailing(m.group("rest"))
            if not rest:
                continue
            if m.group("www"):
                self._add("http", m.group("www") + rest, "text", False, "", part_index)
            else:
                scheme, obf = _scheme_of(m.group("scheme"), m.group("sep"))
                self._add(scheme, rest, "text", obf, "", part_index)

    def from_href(self, href: str, anchor: str, part_index: int) -> None:
        if not self._budget():
            return
        href = _WS_CTRL.sub("", href[:MAX_URL * 2])
        m = _HREF_URL.match(href)
        if m is None:
            return
        rest = href[m.end():]
        if m.group("pr"):
            self._add("http", rest, "href", False, anchor, part_index)
        else:
            scheme, obf = _scheme_of(m.group("scheme"), m.group("sep"))
            self._add(scheme, rest, "href", obf, anchor, part_index)


# ---------------------------------------------------------------------------------------------
# The ParsedMessage
# ---------------------------------------------------------------------------------------------
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


def _leaves(root: Message, problems: list[Problem]) -> list[tuple[Message, int]]:
    """Leaf parts in document order with their depth, at most MAX_PARTS (iterative walk)."""
    leaves: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        msg, depth = stack.pop()
        payload = _stored_payload(msg)
        if isinstance(payload, list) and msg.get_content_type() != "message/delivery-status":
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
        out.append(Problem(_DEFECT_CODES.get(name, MIME_DEFECT), f"{where}: {name}"))
    return out


def _walk_defects(root: Message, problems: list[Problem], truncated: bool) -> None:
    stack: list[tuple[Message, str]] = [(root, "message")]
    seen = 0
    while stack and seen <= MAX_PARSED_OBJECTS + 1:
        msg, where = stack.pop()
        seen += 1
        problems.extend(_defect_problems(msg, where, truncated))
        payload = _stored_payload(msg)
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
    textual = maintype in ("text", "multipart") or ctype == "message/delivery-status"
    data, size, decode_problems = _payload_bytes(msg, want_bytes=textual)
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
        decoded = _bounded_marks(decoded, problems, f"part {index}")
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
    return _INVISIBLE.sub("", text.replace("\x00", ""))


def _build(raw: bytes) -> ParsedMessage:
    problems: list[Problem] = []
    if b"\x00" in raw:
        problems.append(Problem(MIME_NUL_BYTES, "in the raw message"))
    root, state, stopped = _parse(raw)
    if stopped == MIME_TOO_MANY_PARTS:
        problems.append(Problem(MIME_TOO_MANY_PARTS, f"over {MAX_PARSED_OBJECTS} MIME objects"))
    elif stopped == MIME_TRUNCATED:
        problems.append(Problem(MIME_TRUNCATED, "message beyond the parse caps not read"))
    if state.max_depth > MAX_DEPTH:
        problems.append(Problem(MIME_TOO_DEEP, f"nesting over {MAX_DEPTH}"))
    problems.extend(state.problems)
    _walk_defects(root, problems, stopped is not None)

    return _assemble(root, problems, stopped, len(raw), 0)


def _assemble(root: Message, problems: list[Problem], stopped: str | None, size: int, level: int) -> ParsedMessage:
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
    collector = _LinkCollector(problems)
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
    attached = _attached_messages(root, level) if level < MAX_ATTACHED_LEVEL else ()
    return ParsedMessage(tuple(headers), tuple(parts), tuple(collector.links), tuple(problems),
                         text, html, size, truncated, addresses, attached)


def _attached_messages(root: Message, level: int) -> tuple[ParsedMessage, ...]:
    """The messages attached under `root`, in document order (at most MAX_ATTACHED); one inside
    another is found by the outer attached message's own walk."""
    found: list[ParsedMessage] = []
    stack: list[Message] = [root]
    while stack and len(found) < MAX_ATTACHED:
        msg = stack.pop()
        payload = _stored_payload(msg)
        ctype = msg.get_content_type()
        if msg is not root and ctype == "message/rfc822" and isinstance(payload, list) and payload \
                and isinstance(payload[0], Message):
            found.append(_assemble(payload[0], [], None, 0, level + 1))
        elif ctype == "text/rfc822-headers":
            data, _, _ = _payload_bytes(msg)
            found.append(_headers_only(data[:MAX_PARAM_HEADER_CHARS * 64], level + 1))
        elif isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
    return tuple(found)


def _headers_only(data: bytes, level: int) -> ParsedMessage:
    block = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    root, _, stopped = _parse(block + b"\r\n\r\n")
    return _assemble(root, [], stopped, len(block), level)


def _address_headers(headers: list[tuple[str, str]], problems: list[Problem]) -> tuple[tuple[str, AddressField], ...]:
    fields, unparsed = parse_fields(headers)
    problems.extend(Problem(MIME_BAD_ADDRESS_HEADER, detail) for detail in unparsed)
    return fields


def _fallback(raw: bytes, exc: BaseException) -> ParsedMessage:
    """The parser failed: headers split by hand, the rest read as one text body."""
    problems = [Problem(MIME_PARSE_ERROR, type(exc).__name__)]
    raw = raw[:MAX_PARSE_BYTES]
    end = _header_block_end(raw, len(raw))
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
    text = _clean_plain(_bounded_marks(_guess_decode(body[:MAX_PART_TEXT]), problems, "body"))
    collector = _LinkCollector(problems)
    collector.from_text(text, 0)
    part = Part(0, "text/plain", None, None, None, len(body), text, False)
    addresses = _address_headers(headers, problems)
    return ParsedMessage(tuple(headers), (part,), tuple(collector.links), tuple(problems), text, "",
                         len(raw), True, addresses)
