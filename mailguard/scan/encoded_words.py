"""Header values: unfolding, 8-bit bytes, RFC 2047 encoded words."""
from __future__ import annotations

import base64
import binascii
import re

from mailguard.scan.text import MAX_MARKS, bound_marks

from mailguard.scan.charsets import cp1252_or_latin1, decode_bytes
from mailguard.scan.problems import (
    MIME_8BIT_HEADER, MIME_BAD_CHARSET, MIME_BAD_ENCODED_WORD, MIME_CHARSET_MISMATCH, MIME_COMBINING_RUN,
    MIME_NUL_BYTES, Problem
)


# Lenient about spaces inside the encoded text (broken mailers write them); still linear:
# every piece is a single character class delimited by '?'.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]{1,64})(?:\*[^?\s]{0,32})?\?([bBqQ])\?([^?]{0,8192})\?=")
_FOLD = re.compile(r"\r?\n|\r")
_BETWEEN_WORDS = re.compile(r"[ \t]*")
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


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
        return cp1252_or_latin1(data), True


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
    return cut_mark_runs(value, problems, name).strip()


def cut_mark_runs(text: str, problems: list[Problem] | None, where: str) -> str:
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
